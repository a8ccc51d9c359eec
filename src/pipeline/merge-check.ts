// What `npm run merge` checks before it writes anything: every folder is a finished shard of the same
// run — the same tokenizer (manifest sha256, vocabulary size, dtype, and vocab.json byte for byte), the
// same configuration except `shard`, one shard count, no shard twice and (unless allowed) none missing.
// Errors name the folder and file at fault. merge.ts does the writing. Megatron's merge_datasets.py only
// checks that the dtypes agree; these checks are ours, since shards trained with different tokenizers
// would merge into silently wrong data.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import type { Manifest } from './manifest.js';
import { readManifest } from './read-document.js';
import type { ShardSpec } from './shard.js';

export interface ShardInput {
  dir: string;
  manifest: Manifest;
  shard: ShardSpec;
}

/** Reads and checks the shard folders; returns them in shard order. */
export async function loadShardInputs(dirs: string[], allowPartial: boolean): Promise<ShardInput[]> {
  if (dirs.length === 0) throw new HyperlmError('CLI_BAD_FLAG', 'merge needs at least one shard folder');
  const inputs: ShardInput[] = [];
  for (const dir of dirs) {
    const manifest = await readManifest(dir);
    const shard = manifest.config.shard as ShardSpec | undefined;
    if (!shard)
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `${join(dir, 'manifest.json')}: not a shard (its config has no "shard"; preprocess with --shard I/N)`,
      );
    inputs.push({ dir, manifest, shard });
  }
  const [ref, ...rest] = inputs;
  const refVocab = await readVocab(ref.dir);
  for (const other of rest) {
    const a = ref.manifest.tokenizer;
    const b = other.manifest.tokenizer;
    const file = join(other.dir, 'manifest.json');
    for (const key of ['sha256', 'vocabSize', 'dtype'] as const) {
      if (a[key] !== b[key]) {
        throw new HyperlmError(
          'CONFIG_BAD_VALUE',
          `${file}: tokenizer ${key} ${JSON.stringify(b[key])} differs from ${join(ref.dir, 'manifest.json')}'s ${JSON.stringify(a[key])}: ` +
            'shards must be preprocessed with the same --tokenizer',
        );
      }
    }
    if (!(await readVocab(other.dir)).equals(refVocab)) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `${join(other.dir, 'vocab.json')} differs from ${join(ref.dir, 'vocab.json')}: shards must share one vocabulary`,
      );
    }
    const keys = new Set([...Object.keys(ref.manifest.config), ...Object.keys(other.manifest.config)]);
    keys.delete('shard');
    for (const key of keys) {
      const x = JSON.stringify(ref.manifest.config[key]);
      const y = JSON.stringify(other.manifest.config[key]);
      if (x !== y)
        throw new HyperlmError(
          'CONFIG_BAD_VALUE',
          `${file}: config ${key}=${y} differs from ${join(ref.dir, 'manifest.json')}'s ${key}=${x}; shards of one run differ only in "shard"`,
        );
    }
    if (other.shard.count !== ref.shard.count) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `${file}: shard ${other.shard.index}/${other.shard.count} is of a ${other.shard.count}-way split, ${ref.dir} of a ${ref.shard.count}-way one`,
      );
    }
  }
  inputs.sort((x, y) => x.shard.index - y.shard.index);
  for (let i = 1; i < inputs.length; i++) {
    if (inputs[i].shard.index === inputs[i - 1].shard.index) {
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `shard ${inputs[i].shard.index}/${ref.shard.count} is given twice: ${inputs[i - 1].dir} and ${inputs[i].dir}`,
      );
    }
  }
  const have = new Set(inputs.map((s) => s.shard.index));
  const missing = Array.from({ length: ref.shard.count }, (_, i) => i).filter((i) => !have.has(i));
  if (missing.length > 0 && !allowPartial) {
    throw new HyperlmError(
      'CLI_BAD_FLAG',
      `shard(s) ${missing.join(', ')} of ${ref.shard.count} are missing; pass them too, or --allow-partial to merge only these`,
    );
  }
  return inputs;
}

async function readVocab(dir: string): Promise<Buffer> {
  const path = join(dir, 'vocab.json');
  try {
    return await readFile(path);
  } catch (err) {
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      `${path}: ${(err as Error).message} (is ${dir} a preprocess output folder?)`,
    );
  }
}
