// One small error class with a stable `code` per failure kind, grouped by stage
// (after fastify's lib/errors.js). Messages name the file, field or value at fault.

export type ErrorCode =
  // configuration and command line
  | 'CONFIG_UNKNOWN_KEY'
  | 'CONFIG_BAD_VALUE'
  | 'CLI_BAD_FLAG'
  // inputs
  | 'INPUT_NOT_FOUND'
  | 'INPUT_UNREADABLE'
  | 'INPUT_BAD_RECORD'
  // building the training corpus (scripts/build-corpus.ts)
  | 'CORPUS_EXCLUDED_PACKAGE'
  | 'CORPUS_FETCH_FAILED'
  | 'CORPUS_BAD_PACKAGE'
  // documents and images (counted skips/drops, not crashes)
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
  // tokenizer and formats
  | 'TOKENIZER_BAD_MODEL'
  | 'SHARD_CORRUPT'
  | 'CHECKPOINT_CORRUPT'
  // training
  | 'TRAIN_NON_FINITE'
  | 'BACKEND_UNAVAILABLE'
  | 'CM3_BAD_TOKENS'
  | 'SHARD_BAD_TOKEN'
  | 'MODEL_BAD_INPUT'
  | 'TOKENIZER_BAD_ID';

export class HyperlmError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HyperlmError';
    this.code = code;
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
