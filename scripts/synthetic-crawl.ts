// A synthetic crawl for the crawl-scale benchmark: a WARC.gz (one gzip member per record, as Common
// Crawl) of at least `mb` megabytes built from real pages with the perturbations a crawl has, so that
// deduplication has real work: of every 10 records, 1 is an exact repeat of an earlier page (another URL),
// 1 a near copy (the body under another site's header and footer, a few words changed), 8 a page with
// its words shuffled within sentences (new text, same statistics). Deterministic for a seed.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { gzipSync } from 'node:zlib';
import { Rng } from '../src/rng.js';

export interface SyntheticCrawl {
  file: string;
  records: number;
  bytes: number;
  exact: number;
  near: number;
}

function record(url: string, body: Buffer, n: number): Buffer {
  const http = Buffer.concat([
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
  ]);
  const head =
    `WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: ${url}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n` +
    `WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-${String(n).padStart(12, '0')}>\r\n` +
    `Content-Type: application/http; msgtype=response\r\nContent-Length: ${http.length}\r\n\r\n`;
  return gzipSync(Buffer.concat([Buffer.from(head), http, Buffer.from('\r\n\r\n')]), { level: 1 });
}

/** Shuffles the words inside each text run between tags (markup untouched). */
function shuffleWords(html: string, rng: Rng): string {
  return html.replace(/>([^<]{40,})</g, (_, text: string) => {
    const w = text.split(/\s+/);
    for (let i = w.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [w[i], w[j]] = [w[j], w[i]];
    }
    return `>${w.join(' ')}<`;
  });
}

/** Another site's header and footer around the same body, and `changes` words replaced. */
function nearCopy(html: string, rng: Rng, k: number): string {
  const header = `<div class="site-${k}">Site ${k} home products support about contact login search news blog</div>`;
  let out = html
    .replace(/<body[^>]*>/i, (b) => `${b}${header}`)
    .replace(/<\/body>/i, `<footer>Copyright site ${k}. All rights reserved. Privacy terms.</footer></body>`);
  // Three words changed, each in a random text run between tags.
  const runs = [...out.matchAll(/>([^<]{20,})</g)].map((m) => m.index! + 1);
  for (let c = 0; c < 3 && runs.length > 0; c++) {
    const at = runs[rng.int(runs.length)];
    const end = out.indexOf('<', at);
    const w = out.slice(at, end).split(' ');
    w[rng.int(w.length)] = `changed${c}`;
    out = out.slice(0, at) + w.join(' ') + out.slice(end);
  }
  return out;
}

export async function writeSyntheticCrawl(
  pages: Buffer[],
  file: string,
  mb: number,
  seed = 1,
): Promise<SyntheticCrawl> {
  const rng = Rng.fromSeed(seed);
  const out = createWriteStream(file);
  const texts = pages.map((p) => p.toString('utf8'));
  const written: string[] = [];
  let bytes = 0;
  let n = 0;
  let exact = 0;
  let near = 0;
  while (bytes < mb * 1e6) {
    const kind = n % 10;
    let html: string;
    if (kind === 3 && written.length > 0) {
      html = written[rng.int(written.length)];
      exact++;
    } else if (kind === 7 && written.length > 0) {
      html = nearCopy(written[rng.int(written.length)], rng, rng.int(50));
      near++;
    } else {
      html = shuffleWords(texts[rng.int(texts.length)], rng);
      if (written.length < 2000) written.push(html);
      else written[rng.int(2000)] = html;
    }
    const body = Buffer.from(html, 'utf8');
    const rec = record(`https://site-${rng.int(500)}.example/page-${n}.html`, body, n);
    if (!out.write(rec)) await once(out, 'drain');
    bytes += rec.length;
    n++;
  }
  out.end();
  await once(out, 'finish');
  return { file, records: n, bytes, exact, near };
}
