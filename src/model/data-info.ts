// What the training loader needs to know about a preprocessed folder, read from DIR/manifest.json and
// DIR/vocab.json (written by src/pipeline): shard names and splits, whether and how the shards were
// CM3-masked at preprocess time (`cm3Static`, and `cm3Window`, the blockSize the windows were cut for),
// the domain ids, the vocabulary layout and the spm pieces (to find a code document's header line).
// Read defensively: a missing file or field is a named error, never a crash deeper in the loader.
// The loader itself (rows, packing, position) is loader.ts.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';

export interface DataInfo {
  dir: string;
  shards: Array<{ name: string; split: string }>;
  /** Shards were CM3-masked by preprocess; the loader must not mask again. */
  cm3Static: boolean;
  /**
   * With cm3Static: the model blockSize the documents were cut into windows for (`--cm3-window`, each
   * window one sequence); undefined for whole-document static masking (older folders).
   */
  cm3Window?: number;
  /** Domain key → data domain id. */
  domains: Record<string, number>;
  layout: {
    size: number;
    pad: number;
    eos: number;
    maskBase: number;
    maskCount: number;
    eom: number;
    imageBegin?: number;
    imageEnd?: number;
  };
  /** spm pieces by id (vocab.json `pieces`), when present. */
  pieces?: string[];
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `${path}: cannot read (run \`npm run preprocess\` first?)`, {
      cause: err,
    });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new HyperlmError('INPUT_BAD_RECORD', `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

export async function readDataInfo(dir: string): Promise<DataInfo> {
  const manifest = await readJson(join(dir, 'manifest.json'));
  const vocab = await readJson(join(dir, 'vocab.json'));
  const layout = vocab.layout as Record<string, unknown> | undefined;
  const need = ['size', 'pad', 'eos', 'maskBase', 'maskCount', 'eom'];
  const missing = need.filter((k) => !Number.isInteger(layout?.[k]));
  if (!layout || missing.length > 0) {
    throw new HyperlmError(
      'INPUT_BAD_RECORD',
      `${join(dir, 'vocab.json')}: layout lacks integer field(s) ${missing.join(', ') || 'layout'}`,
    );
  }
  if (!Array.isArray(manifest.shards))
    throw new HyperlmError('INPUT_BAD_RECORD', `${join(dir, 'manifest.json')}: field "shards" must be a list`);
  const config = (manifest.config ?? {}) as Record<string, unknown>;
  const window = config.cm3Window;
  if (window !== undefined && window !== null && !(Number.isInteger(window) && (window as number) >= 0)) {
    throw new HyperlmError(
      'INPUT_BAD_RECORD',
      `${join(dir, 'manifest.json')}: config.cm3Window must be an integer ≥ 0 (0 = whole documents), got ${JSON.stringify(window)}`,
    );
  }
  const pieces = Array.isArray(vocab.pieces)
    ? (vocab.pieces as unknown[]).map((p) => (Array.isArray(p) ? String(p[0]) : String(p)))
    : undefined;
  return {
    dir,
    shards: manifest.shards as DataInfo['shards'],
    cm3Static: config.cm3Static === true,
    ...(typeof window === 'number' && window > 0 ? { cm3Window: window } : {}),
    domains: (manifest.domains ?? {}) as Record<string, number>,
    layout: layout as unknown as DataInfo['layout'],
    ...(pieces ? { pieces } : {}),
  };
}
