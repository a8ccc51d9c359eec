// The infill server's typed configuration: defaults with a "why" per field, and `resolveServeConfig`,
// which merges overrides once and rejects unknown keys and bad values by name (as src/model/config.ts
// does for the model). scripts/serve.ts maps its flags onto these fields; tests pass objects.

import { HyperlmError } from '../errors.js';
import { INFILL_DEFAULTS, type InfillMode } from '../prompts/code-infill.js';

export interface ServeConfig {
  /** Address to bind; loopback unless the user asks otherwise. */
  host: string;
  /** TCP port; 0 picks a free one (tests). */
  port: number;
  /** When set, every route but /health needs `Authorization: Bearer KEY` (or `X-Api-Key: KEY`). */
  apiKey?: string;
  /** Origins (scheme://host[:port]) whose browser requests are allowed; others are refused. */
  cors: string[];
  /** Slots: requests decoded at once, each with its own prompt cache (one HostDecoder row each). */
  parallel: number;
  /** Context per slot in tokens; 0 = the model's blockSize. */
  ctx: number;
  /** Largest n_predict a request may ask for (-1 / absent means this). */
  maxPredict: number;
  /** Requests waiting for a slot beyond the busy ones; more get 503 with Retry-After. */
  maxQueue: number;
  /** Request bodies larger than this get 413 (an editor request with extra context is ~100 kB). */
  maxBodyBytes: number;
  /** A client must send its headers within this (slowloris). */
  headersTimeoutMs: number;
  /** ... and its whole body within this, or it gets 408. */
  bodyTimeoutMs: number;
  /** On SIGTERM/SIGINT: in-flight requests may finish within this, then they are cancelled. */
  shutdownGraceMs: number;
  /** Prompt tokens per prefill call: a new request waits at most one chunk for running ones, and vice versa. */
  prefillChunk: number;
  /** Prompt shape for /infill, suffix requests and Ollama (src/prompts/code-infill.ts). */
  infillMode: InfillMode;
  /** Header language when a request names no file (editors send none); undefined = no header. */
  language?: string;
  /** Share of the prompt budget for the prefix (llama.cpp's 3:1). */
  prefixShare: number;
  /** Most of the prompt budget for input_extra files. */
  extraShare: number;
  /** A truncated prefix drops a multiple of this many tokens, so its start (and the cache) moves rarely. */
  truncateStep: number;
  /** Most of the context a request's n_predict may reserve when the prompt is cut to fit. */
  reserveShare: number;
}

export const SERVE_DEFAULTS: ServeConfig = {
  host: '127.0.0.1', // a server on 0.0.0.0 is reachable from the network; editors run on the same machine
  port: 8012, // llama.vim's and llama.vscode's default endpoint port
  cors: [], // editors send no Origin; any web page that does is refused unless listed
  parallel: 2, // one slot per core on the target machine; more slots batch but share the same 2 cores
  ctx: 0,
  maxPredict: 1024, // llama.vim asks for 128–256; more is a runaway on a CPU
  maxQueue: 16, // a few keystrokes' worth of requests; later ones are stale anyway
  maxBodyBytes: 1_048_576, // llama.vim's 16 extra chunks of 64 lines fit with room to spare
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  shutdownGraceMs: 5_000,
  prefillChunk: 256, // a short prefill step for small models (BENCHMARKS.md, measurements table): bounds how long a step is delayed
  infillMode: INFILL_DEFAULTS.mode,
  prefixShare: INFILL_DEFAULTS.prefixShare,
  extraShare: INFILL_DEFAULTS.extraShare,
  truncateStep: INFILL_DEFAULTS.truncateStep,
  reserveShare: 0.5, // llama.vim's n_predict 128 on a 256-token model still leaves half for the prompt
};

const INTEGER_FIELDS: Array<[keyof ServeConfig, number, number]> = [
  ['port', 0, 65535],
  ['parallel', 1, 64],
  ['ctx', 0, 1 << 20],
  ['maxPredict', 1, 1 << 20],
  ['maxQueue', 0, 1 << 16],
  ['maxBodyBytes', 1, 1 << 30],
  ['headersTimeoutMs', 1, 3_600_000],
  ['bodyTimeoutMs', 1, 3_600_000],
  ['shutdownGraceMs', 0, 3_600_000],
  ['prefillChunk', 1, 1 << 20],
  ['truncateStep', 1, 1 << 16],
];

/** Defaults + overrides, checked: unknown keys and bad values are CONFIG_UNKNOWN_KEY / CONFIG_BAD_VALUE naming the key. */
export function resolveServeConfig(overrides: Partial<ServeConfig> = {}): ServeConfig {
  for (const key of Object.keys(overrides)) {
    if (!(key in SERVE_DEFAULTS) && key !== 'apiKey' && key !== 'language') {
      throw new HyperlmError('CONFIG_UNKNOWN_KEY', `serve config: unknown key "${key}"`);
    }
  }
  const c: ServeConfig = {
    ...SERVE_DEFAULTS,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
  const bad = (key: string, why: string, value: unknown): never => {
    throw new HyperlmError('CONFIG_BAD_VALUE', `serve config: ${key} ${why}, got ${JSON.stringify(value)}`);
  };
  for (const [key, min, max] of INTEGER_FIELDS) {
    const v = c[key] as number;
    if (!Number.isInteger(v) || v < min || v > max) bad(key, `must be an integer in [${min}, ${max}]`, v);
  }
  for (const key of ['prefixShare', 'extraShare'] as const)
    if (!(c[key] >= 0 && c[key] <= 1)) bad(key, 'must be in [0, 1]', c[key]);
  if (!(c.reserveShare > 0 && c.reserveShare < 1)) bad('reserveShare', 'must be in (0, 1)', c.reserveShare);
  if (typeof c.host !== 'string' || c.host === '') bad('host', 'must be a non-empty string', c.host);
  if (c.apiKey !== undefined && (typeof c.apiKey !== 'string' || c.apiKey === ''))
    bad('apiKey', 'must be a non-empty string', c.apiKey);
  if (
    !Array.isArray(c.cors) ||
    c.cors.some((o) => typeof o !== 'string' || !/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(o))
  ) {
    bad('cors', 'must be a list of origins like http://localhost:3000 (scheme://host[:port], no path)', c.cors);
  }
  if (!['multi-line', 'single-line', 'left-to-right'].includes(c.infillMode))
    bad('infillMode', 'must be multi-line, single-line or left-to-right', c.infillMode);
  return c;
}
