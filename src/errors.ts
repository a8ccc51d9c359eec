// One small error class with a stable `code` per failure kind, grouped by stage
// (after fastify's lib/errors.js). Messages name the file, field or value at fault.

export type ErrorCode =
  // command line and configuration (src/cli, every resolve…Config)
  | 'CLI_BAD_FLAG'
  | 'CONFIG_UNKNOWN_KEY'
  | 'CONFIG_BAD_VALUE'
  // inputs (src/data)
  | 'INPUT_NOT_FOUND'
  | 'INPUT_UNREADABLE'
  | 'INPUT_BAD_RECORD'
  // output (disk full, permission denied, device errors while writing shards or checkpoints)
  | 'IO_FAILED'
  // building the training corpus (scripts/build-corpus.ts)
  | 'CORPUS_EXCLUDED_PACKAGE'
  | 'CORPUS_FETCH_FAILED'
  | 'CORPUS_BAD_PACKAGE'
  // documents and images: counted skips and drops during preprocessing, not crashes (src/minimize, src/vqgan)
  | 'DOC_EMPTY'
  | 'DOC_BINARY'
  | 'DOC_TOO_LARGE'
  | 'DOC_LOW_TEXT_RATIO'
  | 'IMAGE_OUTSIDE_ROOT'
  | 'IMAGE_REMOTE'
  | 'IMAGE_MISSING'
  | 'IMAGE_CORRUPT'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_UNSUPPORTED'
  // tokenizer and CM3 (src/tokenize)
  | 'TOKENIZER_BAD_MODEL'
  | 'TOKENIZER_BAD_ID'
  | 'CM3_BAD_TOKENS'
  | 'CM3_WINDOW_MISMATCH'
  | 'CM3_WINDOW_TOO_SMALL'
  // shards (src/shards)
  | 'SHARD_CORRUPT'
  | 'SHARD_BAD_TOKEN'
  // model and backends (src/model, src/backend)
  | 'MODEL_BAD_INPUT'
  | 'BACKEND_UNAVAILABLE'
  // training runs (src/train, the LM and VQGAN trainers)
  | 'TRAIN_NON_FINITE'
  | 'RUN_HAS_CHECKPOINTS'
  | 'TRAIN_VOCAB_MISMATCH'
  | 'CHECKPOINT_CORRUPT'
  // prompts and evaluation (src/prompts)
  | 'PROMPT_EMPTY'
  | 'PROMPT_TOO_LONG'
  | 'PROMPT_BAD_INPUT'
  | 'METRIC_BAD_INPUT'
  | 'EVAL_BAD_TASK'
  // the HTTP server (src/serve): each maps to one HTTP status there
  | 'SERVE_BAD_REQUEST'
  | 'SERVE_UNAUTHORIZED'
  | 'SERVE_FORBIDDEN'
  | 'SERVE_NOT_FOUND'
  | 'SERVE_BODY_TOO_LARGE'
  | 'SERVE_TIMEOUT'
  | 'SERVE_BUSY'
  | 'SERVE_UNAVAILABLE'
  // a broken internal contract: a bug in hyperlm, not in the input
  | 'INTERNAL';

export class HyperlmError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HyperlmError';
    this.code = code;
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new HyperlmError('INTERNAL', `unexpected ${what}: ${JSON.stringify(value)}`);
}
