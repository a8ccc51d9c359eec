// The model's typed configuration: defaults with a "why" per field, presets as a plain map, and
// `resolveModelConfig`, which merges overrides (objects or `--set k=v` strings) once and rejects
// unknown keys and wrong types by their dotted path (after minGPT's `merge_from_args`).

import { HyperlmError } from '../errors.js';

export type RouterKind = 'switch' | 'top2' | 'base' | 'demix';

export interface MoEConfig {
  /** Every n-th block (1-based: layers n-1, 2n-1, …) gets an MoE MLP; 0 = dense model. Switch/GShard interleave MoE with dense layers. */
  every: number;
  /** Number of experts per MoE layer; for `demix` this is the number of domains. */
  experts: number;
  /** Routing algorithm: switch (top-1), top2 (GShard), base (balanced auction), demix (by domain id). */
  router: RouterKind;
  /** Expert capacity = ceil(tokens/experts × capacityFactor); 1.25 is the Switch paper's training default. */
  capacityFactor: number;
  /** α of the load-balancing loss (Switch eq. 4); 1e-2 keeps it from swamping the LM loss. */
  auxLossWeight: number;
  /** Weight of the router z-loss (ST-MoE eq. 5); 1e-3 stabilises router logits without changing quality. */
  zLossWeight: number;
  /** Router weights are initialised at initStd × this; Switch found smaller router init more stable. */
  routerInitScale: number;
  /** Optional domain names for `demix` (index = domain id); only used for reporting and checks. */
  domains?: string[];
}

export interface ModelConfig {
  /** Size of the token vocabulary (SentencePiece + image codes + sentinels); set from the data. */
  vocabSize: number;
  /** Maximum context length; fixes the learned position table and the KV cache size. */
  blockSize: number;
  /** Number of transformer blocks. */
  nLayer: number;
  /** Attention heads; dModel must be divisible by it. */
  nHead: number;
  /** Width of the residual stream. */
  dModel: number;
  /** Hidden width of each (dense or expert) MLP; 4·dModel as in GPT-2. */
  dFF: number;
  /** Dropout on attention probs, residual branches and embeddings during training; 0 for small data. */
  dropout: number;
  /** Rotary (RoPE, extrapolates, no table) or learned absolute positions (GPT-2, `wpe`). */
  positions: 'rotary' | 'learned';
  /** Share the input embedding with the output projection (GPT-2); saves vocab×dModel parameters. */
  tieEmbeddings: boolean;
  /** LayerNorm epsilon; 1e-5 as in GPT-2. */
  normEps: number;
  /** Std of the normal weight init; residual projections are further scaled by 1/sqrt(2·nLayer) (GPT-2). */
  initStd: number;
  /** Embedding lookup: `gather` (default) or `onehot` matmul for backends without a gather gradient. */
  embedding: 'gather' | 'onehot';
  /** Mixture-of-experts layers. */
  moe: MoEConfig;
}

export const defaultModelConfig: ModelConfig = {
  vocabSize: 256,
  blockSize: 256,
  nLayer: 4,
  nHead: 4,
  dModel: 256,
  dFF: 1024,
  dropout: 0,
  positions: 'rotary',
  tieEmbeddings: true,
  normEps: 1e-5,
  initStd: 0.02,
  embedding: 'gather',
  moe: {
    every: 0,
    experts: 4,
    router: 'switch',
    capacityFactor: 1.25,
    auxLossWeight: 1e-2,
    zLossWeight: 1e-3,
    routerInitScale: 0.1,
  },
};

const denseSmall: ModelConfig = { ...defaultModelConfig };

export const modelPresets: Record<string, ModelConfig> = {
  tiny: {
    ...defaultModelConfig,
    blockSize: 32,
    nLayer: 2,
    nHead: 2,
    dModel: 32,
    dFF: 64,
    moe: { ...defaultModelConfig.moe, every: 2, experts: 4, router: 'switch' },
  },
  'dense-small': denseSmall,
  'moe-small': { ...denseSmall, moe: { ...denseSmall.moe, every: 2, experts: 4, router: 'switch' } },
  // For this machine (2 cores, WASM): a code infilling model whose rows hold a 512-token CM3 window,
  // ~11M parameters besides the embedding; training settings in train-config.ts `trainPresets`.
  'code-small': {
    ...defaultModelConfig,
    blockSize: 512,
    nLayer: 6,
    nHead: 6,
    dModel: 384,
    dFF: 1536,
  },
  'cm3-125m': {
    ...defaultModelConfig,
    vocabSize: 65536,
    blockSize: 2048,
    nLayer: 12,
    nHead: 12,
    dModel: 768,
    dFF: 3072,
    dropout: 0.1,
    moe: { ...defaultModelConfig.moe, every: 2, experts: 8, router: 'switch' },
  },
};

/** Parse `--set` values (`moe.experts=8`, `positions=learned`) into an override object. */
export function parseSetArgs(sets: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new HyperlmError('CONFIG_BAD_VALUE', `--set ${JSON.stringify(s)} must look like key=value`);
    out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  }
  return out;
}

/** Coerce `raw` to the type of `like` (the default at the same path), or throw naming `path`. */
function coerce(path: string, like: unknown, raw: unknown): unknown {
  const bad = (): never => {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `model config ${path} must be a ${Array.isArray(like) ? 'string list' : typeof like}, got ${JSON.stringify(raw)}`,
    );
  };
  if (typeof like === 'number') {
    const v = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    return typeof v === 'number' && Number.isFinite(v) ? v : bad();
  }
  if (typeof like === 'boolean') {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    return typeof raw === 'boolean' ? raw : bad();
  }
  if (typeof like === 'string') return typeof raw === 'string' ? raw : bad();
  if (Array.isArray(like)) {
    const v = typeof raw === 'string' ? raw.split(',').map((x) => x.trim()) : raw;
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : bad();
  }
  return bad();
}

function merge(
  path: string,
  base: Record<string, unknown>,
  over: Record<string, unknown>,
  shape: Record<string, unknown>,
): void {
  for (const [key, raw] of Object.entries(over)) {
    const dot = key.indexOf('.');
    const head = dot < 0 ? key : key.slice(0, dot);
    const full = path ? `${path}.${head}` : head;
    if (!(head in shape)) throw new HyperlmError('CONFIG_UNKNOWN_KEY', `unknown model config key ${full}`);
    const like = shape[head];
    const isObj = typeof like === 'object' && like !== null && !Array.isArray(like);
    if (dot >= 0) {
      if (!isObj)
        throw new HyperlmError('CONFIG_UNKNOWN_KEY', `unknown model config key ${path ? path + '.' : ''}${key}`);
      merge(
        full,
        base[head] as Record<string, unknown>,
        { [key.slice(dot + 1)]: raw },
        like as Record<string, unknown>,
      );
    } else if (isObj) {
      if (typeof raw !== 'object' || raw === null)
        throw new HyperlmError('CONFIG_BAD_VALUE', `model config ${full} must be an object`);
      merge(
        full,
        base[head] as Record<string, unknown>,
        raw as Record<string, unknown>,
        like as Record<string, unknown>,
      );
    } else {
      base[head] = coerce(full, like, raw);
    }
  }
}

const enums: Record<string, readonly string[]> = {
  positions: ['rotary', 'learned'],
  embedding: ['gather', 'onehot'],
  'moe.router': ['switch', 'top2', 'base', 'demix'],
};

/** Resolve a preset name (or a config-like object) plus overrides into a checked ModelConfig. */
export function resolveModelConfig(base: string | object, overrides: Record<string, unknown> = {}): ModelConfig {
  let start: ModelConfig;
  if (typeof base === 'string') {
    const preset = modelPresets[base];
    if (!preset)
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `unknown model preset ${JSON.stringify(base)} (have ${Object.keys(modelPresets).join(', ')})`,
      );
    start = structuredClone(preset);
  } else {
    start = structuredClone(defaultModelConfig);
    merge('', start as unknown as Record<string, unknown>, base as Record<string, unknown>, shapeOf());
  }
  merge('', start as unknown as Record<string, unknown>, overrides, shapeOf());
  validate(start);
  return start;
}

/** The default config with optional fields present, so `moe.domains` is a known key. */
function shapeOf(): Record<string, unknown> {
  return { ...defaultModelConfig, moe: { ...defaultModelConfig.moe, domains: [] as string[] } } as unknown as Record<
    string,
    unknown
  >;
}

function validate(c: ModelConfig): void {
  const bad = (field: string, why: string): never => {
    throw new HyperlmError('CONFIG_BAD_VALUE', `model config ${field} ${why}`);
  };
  for (const k of ['vocabSize', 'blockSize', 'nLayer', 'nHead', 'dModel', 'dFF'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) bad(k, `must be a positive integer, got ${c[k]}`);
  }
  if (c.dModel % c.nHead !== 0) bad('dModel', `(${c.dModel}) must be divisible by nHead (${c.nHead})`);
  if (c.positions === 'rotary' && (c.dModel / c.nHead) % 2 !== 0)
    bad('nHead', 'must leave an even head size for rotary positions');
  if (!(c.dropout >= 0 && c.dropout < 1)) bad('dropout', `must be in [0, 1), got ${c.dropout}`);
  if (!Number.isInteger(c.moe.every) || c.moe.every < 0)
    bad('moe.every', `must be a non-negative integer, got ${c.moe.every}`);
  if (!Number.isInteger(c.moe.experts) || c.moe.experts < 1)
    bad('moe.experts', `must be a positive integer, got ${c.moe.experts}`);
  if (c.moe.router === 'top2' && c.moe.experts < 2) bad('moe.experts', 'must be at least 2 for the top2 router');
  if (!(c.moe.capacityFactor > 0)) bad('moe.capacityFactor', `must be positive, got ${c.moe.capacityFactor}`);
  if (c.moe.domains && c.moe.domains.length > 0 && c.moe.domains.length !== c.moe.experts) {
    bad('moe.domains', `has ${c.moe.domains.length} names but moe.experts is ${c.moe.experts}`);
  }
  for (const [path, allowed] of Object.entries(enums)) {
    const v = path === 'moe.router' ? c.moe.router : (c as unknown as Record<string, unknown>)[path];
    if (!allowed.includes(v as string)) bad(path, `must be one of ${allowed.join('|')}, got ${JSON.stringify(v)}`);
  }
}

/** Whether block `layer` (0-based) has an MoE MLP. */
export function isMoELayer(config: ModelConfig, layer: number): boolean {
  return config.moe.every > 0 && (layer + 1) % config.moe.every === 0;
}
