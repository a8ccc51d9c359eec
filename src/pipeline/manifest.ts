// DIR/manifest.json: what a preprocessing run read, kept, dropped and wrote. Top-level keys other tools
// rely on: `documents`, `skipped` (reason → count), `tokens`, `images`, `shards`. Everything except
// `timing` is a function of the inputs and the configuration (an interrupted-and-resumed run writes the
// same bytes); `timing` describes this process only. After datatrove's per-step stats (documents and
// characters each filter removed); unlike datatrove's per-task stats files, one manifest per output folder.
import type { SourceStats } from '../data/sources.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import type { ChunkRecord, FilterStats, Split } from './chunk.js';
import { FILTER_EXAMPLES, shardName } from './chunk.js';

export interface Manifest {
  format: 'hyperlm-shards/1';
  inputs: string[];
  config: Record<string, unknown>;
  tokenizer: { file: 'tokenizer.model'; sha256: string; vocabSize: number; dtype: string; trainedHere: boolean };
  documents: { in: number; out: number; train: number; valid: number };
  skipped: Record<string, number>;
  tokens: { train: number; valid: number; total: number };
  images: { encoded: number; dropped: Record<string, number> };
  minimize: Record<string, { nodes: number; chars: number }>;
  filters: Record<string, FilterStats>;
  /** Documents per detected language (only with a language filter). */
  languages: Record<string, number>;
  readSkipped: Record<string, number>;
  shards: Array<{ name: string; split: Split; documents: number; sequences: number; tokens: number }>;
  domains: Record<string, number>;
  /** Only in a merged folder (merge.ts): the shards merged, and documents repeated across them. */
  merge?: { shards: string[]; link: boolean; crossShardDuplicates: number };
  timing: Record<string, unknown>;
}

export function buildManifest(args: {
  config: Record<string, unknown>;
  inputs: string[];
  chunks: ChunkRecord[];
  sourceStats: SourceStats;
  tokenizer: Tokenizer;
  trainedHere: boolean;
  timing: Record<string, unknown>;
  /** Filter steps configured for this run (reported even when they removed nothing). */
  steps: string[];
}): Manifest {
  const { chunks, sourceStats } = args;
  const sum = (f: (c: ChunkRecord) => number): number => chunks.reduce((a, c) => a + f(c), 0);
  const skipped: Record<string, number> = {};
  const add = (k: string, v: number): void => {
    skipped[k] = (skipped[k] ?? 0) + v;
  };
  const readSkipped: Record<string, number> = {};
  for (const [k, v] of Object.entries(sourceStats.skipped)) readSkipped[`file:${k}`] = v;
  for (const [k, v] of Object.entries(sourceStats.errorCounts)) readSkipped[k] = (readSkipped[k] ?? 0) + (v ?? 0);
  for (const c of chunks) for (const [k, v] of Object.entries(c.skipped)) add(k, v);
  for (const [k, v] of Object.entries(readSkipped)) add(k, v);
  const dropped: Record<string, number> = {};
  const minimize: Record<string, { nodes: number; chars: number }> = {};
  for (const c of chunks) {
    for (const [k, v] of Object.entries(c.images.dropped)) dropped[k] = (dropped[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.minimize)) {
      const m = (minimize[k] ??= { nodes: 0, chars: 0 });
      m.nodes += v.nodes;
      m.chars += v.chars;
    }
  }
  const filters = sumFilters([
    Object.fromEntries(args.steps.map((k) => [k, { documents: 0, chars: 0 }])),
    ...chunks.map((c) => c.filters ?? {}),
  ]);
  const languages: Record<string, number> = {};
  for (const c of chunks)
    for (const [k, v] of Object.entries(c.languages ?? {})) languages[k] = (languages[k] ?? 0) + v;
  const shards = chunks.flatMap((c) =>
    (['train', 'valid'] as const)
      .filter((s) => c.documentsOut[s] > 0)
      .map((split) => ({
        name: shardName(split, c.chunk),
        split,
        documents: c.documentsOut[split],
        sequences: c.sequences[split],
        tokens: c.tokens[split],
      })),
  );
  const train = sum((c) => c.documentsOut.train);
  const valid = sum((c) => c.documentsOut.valid);
  const layout = args.tokenizer.layout;
  return {
    format: 'hyperlm-shards/1',
    inputs: args.inputs,
    config: args.config,
    tokenizer: {
      file: 'tokenizer.model',
      sha256: args.tokenizer.hash(),
      vocabSize: layout.size,
      dtype: layout.dtype,
      trainedHere: args.trainedHere,
    },
    documents: { in: sum((c) => c.documentsIn), out: train + valid, train, valid },
    skipped,
    tokens: {
      train: sum((c) => c.tokens.train),
      valid: sum((c) => c.tokens.valid),
      total: sum((c) => c.tokens.train + c.tokens.valid),
    },
    images: { encoded: sum((c) => c.images.encoded), dropped },
    minimize,
    filters,
    languages: sortedKeys(languages),
    readSkipped,
    shards,
    domains: chunks.at(-1)?.domains ?? {},
    timing: args.timing,
  };
}

/** Sums filter steps (documents, characters; the first FILTER_EXAMPLES examples in order). */
export function sumFilters(parts: Array<Record<string, FilterStats>>): Record<string, FilterStats> {
  const out: Record<string, FilterStats> = {};
  for (const part of parts) {
    for (const [k, v] of Object.entries(part)) {
      const f = (out[k] ??= { documents: 0, chars: 0 });
      f.documents += v.documents;
      f.chars += v.chars;
      for (const e of v.examples ?? []) if ((f.examples ??= []).length < FILTER_EXAMPLES) f.examples.push(e);
    }
  }
  return out;
}

export function sortedKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
