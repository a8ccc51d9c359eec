// The infill server: one node:http server in front of one InferenceEngine, speaking llama.cpp (/infill,
// /completion, …), OpenAI (/v1/completions) and Ollama (/api/…) on the same port. It listens first and loads
// the model after (so /health says 503 "Loading model" meanwhile, as llama.cpp's does); every request passes
// the Host, Origin and API-key guards (http.ts) before its body is read; errors take the shape of the
// protocol the path belongs to; one JSON line per request is logged (route, status, tokens, ms). `close`
// stops accepting, lets in-flight requests finish within a grace period, cancels the rest and frees the model.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HyperlmError } from '../errors.js';
import type { ServeConfig } from './config.js';
import { InferenceEngine } from './engine.js';
import { Fields } from './fields.js';
import { checkApiKey, checkHost, checkOrigin, readJsonBody, sendJson, ServeError, statusOf } from './http.js';
import {
  handleCompletion,
  handleDetokenize,
  handleInfill,
  handleTokenize,
  llamaErrorBody,
  modelsBody,
  propsBody,
} from './llama-cpp.js';
import type { ServedModel } from './load-model.js';
import { handleOllamaGenerate, handleOllamaShow, handleOllamaTags, ollamaErrorBody } from './ollama.js';
import { handleOpenAICompletions, openaiErrorBody } from './openai.js';
import type { RouteContext, ServeContext } from './run-completion.js';

type Protocol = 'llama.cpp' | 'openai' | 'ollama';

interface Route {
  handler: (c: RouteContext) => Promise<void>;
  /** Public routes skip the API key (only /health, as llama.cpp). */
  public?: boolean;
}

const ROUTES: Record<string, Route> = {
  'POST /infill': { handler: handleInfill },
  'POST /completion': { handler: handleCompletion },
  'POST /completions': { handler: handleCompletion },
  'POST /tokenize': { handler: handleTokenize },
  'POST /detokenize': { handler: handleDetokenize },
  'GET /props': { handler: async (c) => sendJson(c.res, 200, propsBody(c.s)) },
  'GET /slots': { handler: async (c) => sendJson(c.res, 200, c.s.engine.slotInfo()) },
  'GET /models': { handler: async (c) => sendJson(c.res, 200, modelsBody(c.s)) },
  'GET /v1/models': { handler: async (c) => sendJson(c.res, 200, modelsBody(c.s)) },
  'POST /v1/completions': { handler: handleOpenAICompletions },
  'POST /api/generate': { handler: handleOllamaGenerate },
  'GET /api/tags': { handler: handleOllamaTags },
  'POST /api/show': { handler: handleOllamaShow },
};

/** Which protocol's error shape a path gets. */
function protocolOf(path: string): Protocol {
  if (path.startsWith('/api/')) return 'ollama';
  if (path.startsWith('/v1/') && path !== '/v1/health' && path !== '/v1/models') return 'openai';
  return 'llama.cpp';
}

function errorBody(protocol: Protocol, err: unknown): { status: number; body: unknown } {
  return protocol === 'ollama'
    ? ollamaErrorBody(err)
    : protocol === 'openai'
      ? openaiErrorBody(err)
      : llamaErrorBody(err);
}

export const PROTOCOLS = [
  'llama.cpp: POST /infill /completion /tokenize /detokenize, GET /health /props /slots /v1/models',
  'OpenAI: POST /v1/completions (prompt + suffix)',
  'Ollama: POST /api/generate (prompt + suffix) /api/show, GET /api/tags /api/version',
];

export interface InfillServerOptions {
  config: ServeConfig;
  /** Loads the model (after the server listens). */
  load: () => Promise<ServedModel>;
  /** One JSON line per request and per lifecycle event; default: stdout. */
  log?: (line: string) => void;
}

export class InfillServer {
  readonly http: Server;
  /** Settles when the model is loaded (or failed to load). */
  readonly ready: Promise<void>;
  private ctx?: ServeContext;
  private loadError?: unknown;
  private closing = false;
  private readonly log: (line: string) => void;

  private constructor(private readonly opts: InfillServerOptions) {
    this.log = opts.log ?? ((line) => process.stdout.write(`${line}\n`));
    const c = opts.config;
    this.http = createServer(
      {
        headersTimeout: c.headersTimeoutMs,
        requestTimeout: 0,
        connectionsCheckingInterval: Math.min(1000, c.headersTimeoutMs),
      },
      (req, res) => void this.handle(req, res),
    );
    this.ready = new Promise<void>((resolve) => {
      this.startLoading = resolve;
    });
  }

  private startLoading: () => void = () => {};

  /** Listens on config.host:config.port, then loads the model in the background. */
  static async start(opts: InfillServerOptions): Promise<InfillServer> {
    const server = new InfillServer(opts);
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(opts.config.port, opts.config.host, () => {
        server.http.off('error', reject);
        resolve();
      });
    });
    const a = server.http.address() as AddressInfo;
    server.port = a.port;
    server.url = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
    server.log(JSON.stringify({ event: 'listening', url: server.url, protocols: PROTOCOLS }));
    const done = server.startLoading;
    opts
      .load()
      .then((served) => {
        const ctx = opts.config.ctx || served.config.blockSize;
        if (ctx > served.config.blockSize)
          throw new HyperlmError(
            'CONFIG_BAD_VALUE',
            `--ctx ${ctx} exceeds the model's blockSize ${served.config.blockSize}`,
          );
        const engine = new InferenceEngine(served.model, {
          parallel: opts.config.parallel,
          ctx,
          maxQueue: opts.config.maxQueue,
          prefillChunk: opts.config.prefillChunk,
        });
        server.ctx = { served, engine, config: opts.config, ctx };
        server.log(
          JSON.stringify({
            event: 'ready',
            model: served.name,
            kind: served.kind,
            path: served.path,
            step: served.step,
            ctx,
            slots: opts.config.parallel,
          }),
        );
      })
      .catch((err: unknown) => {
        server.loadError = err;
        server.log(JSON.stringify({ event: 'load_failed', error: err instanceof Error ? err.message : String(err) }));
      })
      .finally(done);
    return server;
  }

  /** http://host:port, as bound (kept after close). */
  url = '';
  port = 0;

  /** The loaded model and engine (undefined while loading). */
  get context(): ServeContext | undefined {
    return this.ctx;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const path = (req.url ?? '/').split('?')[0];
    const protocol = protocolOf(path);
    const log: Record<string, unknown> = {};
    const aborter = new AbortController();
    const closed = new Promise<void>((resolve) =>
      res.on('close', () => {
        if (!res.writableFinished) aborter.abort();
        resolve();
      }),
    );
    await this.route(req, res, path, protocol, log, aborter.signal);
    await closed; // the line is written once the handler is done (a cancelled job reports its counts) and the response closed
    this.log(
      JSON.stringify({
        time: new Date().toISOString(),
        method: req.method,
        route: path,
        status: res.statusCode,
        ms: Math.round(performance.now() - t0),
        ...log,
        ...(res.writableFinished ? {} : { aborted: true }),
      }),
    );
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    protocol: Protocol,
    log: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      checkHost(req, this.opts.config.host);
      const origin = checkOrigin(req, this.opts.config.cors);
      if (origin !== undefined) {
        res.setHeader('Access-Control-Allow-Origin', origin);
        res.setHeader('Vary', 'Origin');
      }
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
          'Access-Control-Allow-Headers': 'Authorization, Content-Type, X-Api-Key',
          'Access-Control-Max-Age': '600',
        });
        return void res.end();
      }
      if (path === '/health' || path === '/v1/health') return this.health(res);
      if (this.opts.config.apiKey !== undefined) checkApiKey(req, this.opts.config.apiKey);
      if (req.method === 'GET' && path === '/api/version') return sendJson(res, 200, { version: '0.1.0' });
      const route = ROUTES[`${req.method} ${path}`];
      if (!route) {
        const known = Object.keys(ROUTES).some((k) => k.endsWith(` ${path}`));
        throw new ServeError(
          'SERVE_NOT_FOUND',
          known ? `${req.method} is not supported on ${path}` : `no route ${req.method} ${path}`,
        );
      }
      const raw =
        req.method === 'POST'
          ? await readJsonBody(req, this.opts.config.maxBodyBytes, this.opts.config.bodyTimeoutMs)
          : {};
      if (this.closing) throw new HyperlmError('SERVE_UNAVAILABLE', 'the server is shutting down');
      if (!this.ctx)
        throw new HyperlmError(
          'SERVE_UNAVAILABLE',
          this.loadError ? `the model failed to load: ${(this.loadError as Error).message}` : 'Loading model',
        );
      await route.handler({ s: this.ctx, req, res, body: Fields.of(raw), signal, log });
    } catch (err) {
      if (signal.aborted) return void res.end();
      const { status, body } = errorBody(protocol, err);
      if (statusOf(err) === 500) log.error = err instanceof Error ? err.message : String(err);
      const headers: Record<string, string> = status === 503 ? { 'Retry-After': '1' } : {};
      if (status === 408 || status === 413) headers.Connection = 'close'; // the rest of the body is not read
      sendJson(res, status, body, headers);
      if (status === 408 || status === 413) res.once('finish', () => req.destroy());
    }
  }

  private health(res: ServerResponse): void {
    if (this.ctx && !this.closing) return sendJson(res, 200, { status: 'ok' });
    const message = this.loadError
      ? `the model failed to load: ${(this.loadError as Error).message}`
      : this.closing
        ? 'shutting down'
        : 'Loading model';
    sendJson(res, this.loadError ? 500 : 503, {
      error: { code: this.loadError ? 500 : 503, message, type: this.loadError ? 'server_error' : 'unavailable_error' },
    });
  }

  /** Stops accepting, lets running requests finish for up to graceMs, cancels the rest, frees the model. */
  async close(graceMs = this.opts.config.shutdownGraceMs): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    await this.ready;
    if (this.ctx) await this.ctx.engine.close(graceMs);
    await new Promise((r) => setTimeout(r, 50)); // let handlers write their last bytes
    this.http.closeAllConnections();
    await closed;
    this.ctx?.served.model.dispose();
    this.log(JSON.stringify({ event: 'closed' }));
  }
}
