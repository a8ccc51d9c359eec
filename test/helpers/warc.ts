// WARC/1.0 records written by hand for tests (one gzip member per record when gzipped, as Common Crawl
// does): a `response` record holding an HTTP response, or any record type with a raw block.

let recordCount = 0;

/** One WARC/1.0 response record: WARC headers, then an HTTP response as the block. */
export function warcResponse(
  url: string,
  contentType: string,
  body: Buffer | string,
  extraHttp = '',
  status = '200 OK',
): Buffer {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const http = Buffer.concat([
    Buffer.from(
      `HTTP/1.1 ${status}\r\nContent-Type: ${contentType}\r\n${extraHttp}Content-Length: ${payload.length}\r\n\r\n`,
    ),
    payload,
  ]);
  return warcRecord('response', url, 'application/http; msgtype=response', http);
}

/** One WARC/1.0 record of `type` with `block` as its content. */
export function warcRecord(type: string, url: string, contentType: string, block: Buffer): Buffer {
  const id = String(++recordCount).padStart(12, '0');
  const head =
    `WARC/1.0\r\nWARC-Type: ${type}\r\nWARC-Target-URI: ${url}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n` +
    `WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-${id}>\r\n` +
    `Content-Type: ${contentType}\r\nContent-Length: ${block.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head), block, Buffer.from('\r\n\r\n')]);
}
