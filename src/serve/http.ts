// HTTP plumbing shared by the three protocols, on node:http alone: the guards every request passes (Host
// against DNS rebinding, Origin against web pages, the API key in constant time), reading a JSON body with a
// size cap and a deadline, and the writers — one JSON answer, server-sent events (llama.cpp, OpenAI) and
// NDJSON (Ollama). Failures are HyperlmErrors whose code picks the HTTP status; `param` names the field.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { HyperlmError, type ErrorCode } from '../errors.js';

/** A request failure with the field at fault (OpenAI's `param`) and, for 503, a Retry-After. */
export class ServeError extends HyperlmError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly param?: string,
  ) {
    super(code, message);
  }
}

export function statusOf(err: unknown): number {
  if (!(err instanceof HyperlmError)) return 500;
  switch (err.code) {
    case 'SERVE_BAD_REQUEST':
    case 'PROMPT_EMPTY':
    case 'PROMPT_TOO_LONG':
    case 'CONFIG_BAD_VALUE':
    case 'TOKENIZER_BAD_ID':
      return 400;
    case 'SERVE_UNAUTHORIZED':
      return 401;
    case 'SERVE_FORBIDDEN':
      return 403;
    case 'SERVE_NOT_FOUND':
      return 404;
    case 'SERVE_TIMEOUT':
      return 408;
    case 'SERVE_BODY_TOO_LARGE':
      return 413;
    case 'SERVE_BUSY':
    case 'SERVE_UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

/** The Host header's name (no port, no brackets), lowercased; undefined when absent or malformed. */
function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^\[([0-9a-f:.]+)\](?::\d+)?$/i.exec(header) ?? /^([^:\s]+)(?::\d+)?$/.exec(header);
  return m ? m[1].toLowerCase() : undefined;
}

/**
 * DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends `Host: evil.example`.
 * Allowed: the bound address, localhost and the loopback addresses (on a wildcard bind, any IP literal).
 */
export function checkHost(req: IncomingMessage, boundHost: string): void {
  const name = hostName(req.headers.host);
  const bound = boundHost.replace(/^\[|\]$/g, '').toLowerCase();
  const wildcard = bound === '0.0.0.0' || bound === '::';
  const ok = name !== undefined && (name === bound || LOOPBACK_NAMES.has(name) || (wildcard && isIP(name) !== 0));
  if (!ok)
    throw new ServeError(
      'SERVE_FORBIDDEN',
      `Host ${JSON.stringify(req.headers.host ?? '')} is not this server (${boundHost}) or localhost`,
    );
}

/** A browser request from a page not listed in --cors is refused; requests without Origin (editors, curl) pass. */
export function checkOrigin(req: IncomingMessage, allowed: readonly string[]): string | undefined {
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  if (!allowed.includes(origin))
    throw new ServeError(
      'SERVE_FORBIDDEN',
      `Origin ${JSON.stringify(origin)} is not allowed (start the server with --cors ${origin} to allow it)`,
    );
  return origin;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** `Authorization: Bearer KEY` or `X-Api-Key: KEY`, compared in constant time (digests have equal lengths). */
export function checkApiKey(req: IncomingMessage, key: string): void {
  const auth = req.headers.authorization;
  const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : (req.headers['x-api-key'] as string | undefined);
  if (given === undefined || !timingSafeEqual(digest(given), digest(key))) {
    throw new ServeError(
      'SERVE_UNAUTHORIZED',
      given === undefined ? 'missing API key (Authorization: Bearer KEY)' : 'invalid API key',
    );
  }
}

/** The body as JSON: 413 past maxBytes (by Content-Length or as it arrives), 408 when not complete within timeoutMs. */
export function readJsonBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(
      new ServeError(
        'SERVE_BODY_TOO_LARGE',
        `request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes (--max-body-bytes)`,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0,
      settled = false;
    const settle = (err: unknown, value?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      if (err) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () => settle(new ServeError('SERVE_TIMEOUT', `request body not received within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > maxBytes)
        return settle(
          new ServeError(
            'SERVE_BODY_TOO_LARGE',
            `request body exceeds the limit of ${maxBytes} bytes (--max-body-bytes)`,
          ),
        );
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('error', (e) =>
      settle(new ServeError('SERVE_BAD_REQUEST', `reading the request body failed: ${e.message}`)),
    );
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return settle(undefined, {});
      try {
        settle(undefined, JSON.parse(text));
      } catch (e) {
        settle(new ServeError('SERVE_BAD_REQUEST', `request body is not valid JSON: ${(e as Error).message}`));
      }
    });
  });
}

/** Compact JSON on one line (llama.vim matches `"content":"` without a space). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(data),
    ...headers,
  });
  res.end(data);
}

/** A stream of events: `data: JSON\n\n` (SSE) or `JSON\n` (NDJSON). Writes are dropped once the client is gone. */
export class EventStream {
  constructor(
    private readonly res: ServerResponse,
    private readonly kind: 'sse' | 'ndjson',
    headers: Record<string, string> = {},
  ) {
    res.writeHead(200, {
      'Content-Type': kind === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      ...headers,
    });
    res.flushHeaders();
  }

  send(event: unknown): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    const json = typeof event === 'string' ? event : JSON.stringify(event);
    this.res.write(this.kind === 'sse' ? `data: ${json}\n\n` : `${json}\n`);
  }

  /** llama.cpp reports a failure inside an open stream as `error: JSON`. */
  error(event: unknown): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.res.write(this.kind === 'sse' ? `error: ${JSON.stringify(event)}\n\n` : `${JSON.stringify(event)}\n`);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}
