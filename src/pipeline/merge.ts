// `npm run merge`: shard folders of one sharded run (shard.ts) → one folder that hyperlm's loader and
// Megatron-LM read like an unsharded run's. Per split, the shards' .bin/.idx are concatenated in shard
// order (shards/merge-datasets.ts, Megatron's merge_datasets.py semantics) into train-00000/valid-00000,
// their sidecars are renumbered and their domain ids mapped onto one merged map (keys in order of first
// appearance, shard by shard), and documents repeated across shards are dropped with each shard's
// DIR/dedup.bin replayed through one index in shard order (filter/dedup.ts). The manifests are summed;
// what every shard counted while reading the shared input (`readSkipped`) is counted once.
// `--link` copies no tokens: the manifest lists the shards' own files and megatron-blend.json weights
// them by tokens; documents repeated across shards are then only counted, not dropped. Unlike
// merge_datasets.py, merge also deduplicates across shards and merges sidecars and manifests.
import { readFile, rm, readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { DedupIndex, packKeys, unpackKeys, type DedupMode, type KeptKeys } from '../filter/dedup.js';
import { HyperlmError } from '../errors.js';
import { asIoFailure } from '../io/io-failure.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic-file.js';
import { DatasetConcatenator } from '../shards/merge-datasets.js';
import { readSidecar, SidecarWriter, type SidecarRecord } from '../shards/sidecar.js';
import type { ShardDtype } from '../shards/megatron.js';
import { shardName, type FilterStats, type Split } from './chunk.js';
import { sortedKeys, sumFilters, type Manifest } from './manifest.js';
import { loadShardInputs, type ShardInput } from './merge-check.js';
import { makeDir } from './run-state.js';

export interface MergeOptions {
  out: string;
  shards: string[];
  /** List the shards' files in a Megatron blend instead of concatenating them (no cross-shard dedup). */
  link?: boolean;
  /** Merge although some of the shards 0..N-1 are not given. */
  allowPartial?: boolean;
  log?: (line: string) => void;
}

/** A document dropped at merge; `of` is the kept copy as `shard:split:ordinal`, named by `sources` once known. */
type Drop = { reason: 'DUPLICATE' | 'NEAR_DUPLICATE'; of: string; chars: number; source?: string };
const docLabel = (shard: number, split: Split, n: number): string => `${shard}:${split}:${n}`;
const SPLITS: Split[] = ['train', 'valid'];

export async function mergeShards(opts: MergeOptions): Promise<Manifest> {
  try {
    return await merge(opts);
  } catch (err) {
    throw asIoFailure(
      err,
      'the merged folder is incomplete (no manifest.json): free space or fix the permission, then rerun the same command',
      opts.out,
    );
  }
}

async function merge(opts: MergeOptions): Promise<Manifest> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const inputs = await loadShardInputs(opts.shards, opts.allowPartial ?? false);
  const ref = inputs[0].manifest;
  await makeDir(opts.out);
  for (const name of await readdir(opts.out))
    if (name.endsWith('.tmp') || name === 'manifest.json') await rm(join(opts.out, name), { force: true });
  await writeFileAtomic(join(opts.out, 'tokenizer.model'), await readFile(join(inputs[0].dir, 'tokenizer.model')));
  await writeFileAtomic(join(opts.out, 'vocab.json'), await readFile(join(inputs[0].dir, 'vocab.json')));

  const domains: Record<string, number> = {};
  const remap = inputs.map(({ manifest }) => {
    const m = new Map<number, number>();
    for (const [key, id] of Object.entries(manifest.domains).sort((a, b) => a[1] - b[1]))
      m.set(id, (domains[key] ??= Object.keys(domains).length));
    return m;
  });

  const { drops, keys, bands } = await planDedup(inputs, log);
  const crossShard = drops.reduce((a, d) => a + d.train.size + d.valid.size, 0);
  if (opts.link && crossShard > 0) {
    log(
      `warning: ${crossShard} documents repeat across shards; --link lists the shards as they are, so they stay (merge without --link to drop them)`,
    );
    for (const d of drops) {
      d.train.clear();
      d.valid.clear();
    }
  }

  const skippedLines = await shardSkippedLines(inputs);
  // The kept copies that drops refer to, named by their sources as the concatenation reads the sidecars.
  const sources = new Map<string, string>();
  for (const d of drops)
    for (const split of SPLITS) for (const drop of d[split].values()) sources.set(drop.of, drop.of);
  const shards: Manifest['shards'] = [];
  const blend: Record<string, Array<string>> = { train: [], valid: [], test: [] };
  for (const split of SPLITS) {
    if (opts.link) {
      for (const { dir, manifest } of inputs) {
        for (const s of manifest.shards.filter((x) => x.split === split)) {
          shards.push({ ...s, name: relative(opts.out, join(dir, s.name)) });
          blend[split].push(String(s.tokens), resolve(dir, s.name));
        }
      }
      continue;
    }
    const written = await concatenateSplit(
      opts.out,
      split,
      ref.tokenizer.dtype as ShardDtype,
      inputs,
      drops,
      remap,
      sources,
    );
    if (written) {
      shards.push(written);
      blend[split].push(String(written.tokens), resolve(opts.out, written.name));
    }
  }

  for (const d of drops) {
    for (const split of SPLITS) {
      for (const drop of d[split].values()) {
        drop.of = sources.get(drop.of) ?? drop.of;
        const what = drop.reason === 'NEAR_DUPLICATE' ? 'near duplicate' : 'duplicate';
        skippedLines.push(
          JSON.stringify({
            stage: 'merge',
            reason: drop.reason,
            source: drop.source,
            detail: `${drop.source}: ${what} of ${drop.of}`,
          }),
        );
      }
    }
  }
  const manifest = mergedManifest(inputs, shards, domains, drops, opts, crossShard, started);
  await writeJsonAtomic(join(opts.out, 'megatron-blend.json'), blend);
  await writeFileAtomic(join(opts.out, 'skipped.jsonl'), skippedLines.map((l) => l + '\n').join(''));
  if (keys && !opts.link) await writeFileAtomic(join(opts.out, 'dedup.bin'), packKeys(keys, bands));
  await writeJsonAtomic(join(opts.out, 'manifest.json'), manifest);
  return manifest;
}

/** Replays every shard's dedup.bin in shard order: which train/valid documents (by shard ordinal) repeat an earlier shard's. */
async function planDedup(
  inputs: ShardInput[],
  log: (l: string) => void,
): Promise<{ drops: Array<Record<Split, Map<number, Drop>>>; keys?: KeptKeys[]; bands: number }> {
  const drops = inputs.map(() => ({ train: new Map<number, Drop>(), valid: new Map<number, Drop>() }));
  const config = inputs[0].manifest.config;
  const mode = (config.dedup ?? 'none') as DedupMode;
  const bands = mode === 'near' ? (config.minhash as { bands: number }).bands : 0;
  if (mode === 'none') return { drops, bands };
  const index = new DedupIndex(mode, bands);
  const merged: KeptKeys[] = [];
  for (const [i, { dir }] of inputs.entries()) {
    const file = join(dir, 'dedup.bin');
    const bytes = await readFile(file).catch((err: unknown) => {
      throw new HyperlmError(
        'INPUT_NOT_FOUND',
        `${file}: ${(err as Error).message} (the run had --dedup ${mode}; was the shard finished?)`,
      );
    });
    const entries = unpackKeys(bytes, file);
    const ordinal = { train: 0, valid: 0 };
    for (const e of entries) {
      if (e.split === 'dropped') {
        index.check(e, `a near duplicate dropped in ${dir}`);
        merged.push(e);
        continue;
      }
      const n = ordinal[e.split]++;
      const verdict = index.check(e, docLabel(i, e.split, n));
      if (verdict.keep) {
        merged.push(e);
        continue;
      }
      drops[i][e.split].set(n, { reason: verdict.reason, of: verdict.of, chars: e.chars });
      if (verdict.reason === 'NEAR_DUPLICATE') merged.push({ ...e, split: 'dropped' });
    }
  }
  log(
    `dedup across ${inputs.length} shards: ${drops.reduce((a, d) => a + d.train.size + d.valid.size, 0)} documents repeat an earlier shard's`,
  );
  return { drops, keys: merged, bands };
}

/** One split of every shard into DIR/SPLIT-00000, skipping dropped documents; undefined when the split is empty. */
async function concatenateSplit(
  out: string,
  split: Split,
  dtype: ShardDtype,
  inputs: ShardInput[],
  drops: Array<Record<Split, Map<number, Drop>>>,
  remap: Array<Map<number, number>>,
  sources: Map<string, string>,
): Promise<Manifest['shards'][number] | undefined> {
  const name = shardName(split, 0);
  const prefix = join(out, name);
  const data = new DatasetConcatenator(prefix, dtype);
  const side = new SidecarWriter(prefix);
  let sequences = 0;
  let tokens = 0;
  try {
    for (const [i, { dir, manifest }] of inputs.entries()) {
      let base = 0;
      for (const s of manifest.shards.filter((x) => x.split === split)) {
        const records = await readSidecar(join(dir, s.name));
        const byDoc: SidecarRecord[][] = [];
        for (const r of records) (byDoc[r.doc] ??= []).push(r);
        const dropped = drops[i][split];
        const added = await data.addIndex(join(dir, s.name), (d) => !dropped.has(base + d));
        const first = data.documentCount - added.kept.length;
        added.kept.forEach((d, k) => {
          for (const r of byDoc[d] ?? [])
            side.add({ ...r, doc: first + k, domain: remap[i].get(r.domain) ?? r.domain });
        });
        for (let d = 0; d < s.documents; d++) {
          const source = byDoc[d]?.[0]?.source ?? `${dir}/${s.name} document ${d}`;
          const drop = dropped.get(base + d);
          if (drop) drop.source = source;
          const label = docLabel(i, split, base + d);
          if (sources.has(label)) sources.set(label, source);
        }
        sequences += added.sequences;
        tokens += added.tokens;
        base += s.documents;
      }
    }
    if (data.documentCount === 0) {
      data.abort();
      side.abort();
      return undefined;
    }
    const documents = data.documentCount;
    await data.finalize();
    await side.finalize();
    return { name, split, documents, sequences, tokens };
  } catch (err) {
    data.abort();
    side.abort();
    throw err;
  }
}

/** Each shard's skipped.jsonl: the lines about reading the shared input from the first shard only, every document line. */
async function shardSkippedLines(inputs: ShardInput[]): Promise<string[]> {
  const lines: string[] = [];
  for (const [i, { dir }] of inputs.entries()) {
    const text = await readFile(join(dir, 'skipped.jsonl'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const stage = (JSON.parse(line) as { stage?: string }).stage;
      if (stage !== 'read' || i === 0) lines.push(line);
    }
  }
  return lines;
}

function mergedManifest(
  inputs: ShardInput[],
  shards: Manifest['shards'],
  domains: Record<string, number>,
  drops: Array<Record<Split, Map<number, Drop>>>,
  opts: MergeOptions,
  crossShard: number,
  started: number,
): Manifest {
  const ms = inputs.map((s) => s.manifest);
  const ref = ms[0];
  const sum = (f: (m: Manifest) => number): number => ms.reduce((a, m) => a + f(m), 0);
  const add = (into: Record<string, number>, from: Record<string, number> | undefined, sign = 1): void => {
    for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + sign * v;
  };
  const readSkipped = ref.readSkipped ?? {};
  const skipped: Record<string, number> = {};
  for (const m of ms) {
    add(skipped, m.skipped);
    add(skipped, m.readSkipped, -1);
  }
  add(skipped, readSkipped);
  const mergeFilters: Record<string, FilterStats> = {};
  for (const d of drops) {
    for (const split of SPLITS) {
      for (const drop of d[split].values()) {
        skipped[drop.reason] = (skipped[drop.reason] ?? 0) + 1;
        const near = drop.reason === 'NEAR_DUPLICATE';
        const f = (mergeFilters[near ? 'dedup-near' : 'dedup-exact'] ??= { documents: 0, chars: 0 });
        f.documents++;
        f.chars += drop.chars;
        if (near) (f.examples ??= []).push({ source: drop.source ?? '?', duplicateOf: drop.of });
      }
    }
  }
  for (const k of Object.keys(skipped)) if (skipped[k] === 0) delete skipped[k];
  const images = { encoded: sum((m) => m.images.encoded), dropped: {} as Record<string, number> };
  const minimize: Record<string, { nodes: number; chars: number }> = {};
  const languages: Record<string, number> = {};
  for (const m of ms) {
    add(images.dropped, m.images.dropped);
    add(languages, m.languages);
    for (const [k, v] of Object.entries(m.minimize)) {
      const r = (minimize[k] ??= { nodes: 0, chars: 0 });
      r.nodes += v.nodes;
      r.chars += v.chars;
    }
  }
  const bySplit = (split: Split, f: 'documents' | 'tokens'): number =>
    shards.filter((s) => s.split === split).reduce((a, s) => a + s[f], 0);
  const train = bySplit('train', 'documents');
  const valid = bySplit('valid', 'documents');
  const { shard: _shard, ...config } = ref.config;
  return {
    format: 'hyperlm-shards/1',
    inputs: ref.inputs,
    config,
    tokenizer: { ...ref.tokenizer, trainedHere: false },
    documents: { in: sum((m) => m.documents.in), out: train + valid, train, valid },
    skipped,
    tokens: {
      train: bySplit('train', 'tokens'),
      valid: bySplit('valid', 'tokens'),
      total: bySplit('train', 'tokens') + bySplit('valid', 'tokens'),
    },
    images,
    minimize,
    filters: sumFilters([...ms.map((m) => m.filters ?? {}), mergeFilters]),
    languages: sortedKeys(languages),
    readSkipped,
    shards,
    domains,
    merge: {
      shards: inputs.map((s) => `${s.shard.index}/${s.shard.count} ${resolve(s.dir)}`),
      link: opts.link ?? false,
      crossShardDuplicates: crossShard,
    },
    timing: { seconds: (performance.now() - started) / 1000 },
  };
}
