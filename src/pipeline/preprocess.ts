// The preprocessing job: inputs → (pass 1: minimize a sample and train the tokenizer, unless one is
// given) → pass 2: every document through the worker pipeline → Megatron shards in chunks → manifest.
// Output depends only on the inputs and the configuration: results are written in input order
// whatever the number of workers, and a rerun after a kill resumes at the first unfinished chunk.
// Any I/O failure (disk full, permission denied) ends as IO_FAILED naming the file: what was finished
// is kept (chunks are atomic), so the same command resumes. After Megatron-LM's preprocess_data.py
// (documents → tokens → .bin/.idx) with CM3/HTLM's minimization in front and datatrove's filters; unlike
// those, one process reads, orders and writes while a thread pool does the per-document work.
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { documentIdentity, shardIdentity } from '../data/document.js';
import { readSources, newSourceStats } from '../data/sources.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { writeVocabJson } from '../tokenize/vocab.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic-file.js';
import { asIoFailure } from '../io/io-failure.js';
import { Progress, formatCount } from '../io/progress.js';
import type { PreprocessConfig } from './config.js';
import { createPool, type DocumentPool } from './pool.js';
import { OrderedRunner } from './reorder.js';
import { ChunkWriter, domainKey, splitOf, type DocMeta } from './chunk.js';
import { buildManifest, type Manifest } from './manifest.js';
import { batchDocuments, batchLimitsFor, type DocumentResult } from './task.js';
import type { RawDocument } from '../data/document.js';
import { ensureTokenizer, inFlight, type TokenizerPassHooks } from './tokenizer-pass.js';
import { DedupIndex, packKeys, unpackKeys, type KeptKeys } from '../filter/dedup.js';
import { shardOf } from './shard.js';
import { checkSameConfig, inputBytes, loadChunkRecords, makeDir, removeTemps, writeSkipped } from './run-state.js';

export interface PreprocessHooks extends TokenizerPassHooks {
  log?: (line: string) => void;
  /** Show a progress bar / periodic progress lines on stderr. */
  progress?: boolean;
}

/** What an I/O failure's message ends with: nothing finished is lost, so a rerun continues. */
const RESUME_HINT = 'finished chunks are kept: free space or fix the permission, then rerun the same command to resume';

/** Config fields that change the output; `workers` and timeouts do not, so a resume may change them. */
function outputConfig(config: PreprocessConfig): Record<string, unknown> {
  const { workers: _w, docTimeoutMs: _t, workerHeapMb: _h, out: _o, cm3Window, ...rest } = config;
  // cm3Window only when set, so folders written before it existed still resume
  return cm3Window > 0 ? { ...rest, cm3Window } : rest;
}

export async function preprocess(config: PreprocessConfig, hooks: PreprocessHooks = {}): Promise<Manifest> {
  try {
    return await run(config, hooks);
  } catch (err) {
    throw asIoFailure(err, RESUME_HINT, config.out);
  }
}

async function run(config: PreprocessConfig, hooks: PreprocessHooks): Promise<Manifest> {
  if (config.shard && !config.tokenizer) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `shard ${config.shard.index}/${config.shard.count} has no tokenizer: a sharded run needs --tokenizer FILE, ` +
        'the same for every shard (train it once on a sample with `npm run train-tokenizer`), or the shards cannot be merged',
    );
  }
  const started = performance.now();
  const stateDir = join(config.out, '.state');
  await makeDir(stateDir);
  await checkSameConfig(join(stateDir, 'config.json'), outputConfig(config));
  await removeTemps(config.out);

  const tokenizerPath = join(config.out, 'tokenizer.model');
  const trainedHere = await ensureTokenizer(config, tokenizerPath, hooks);
  const tokenizerSeconds = (performance.now() - started) / 1000;
  const passStart = performance.now();
  // The workers start now, loading their modules and the tokenizer while this thread does the same and
  // reads the finished chunks: on 2 cores the start-up of both overlaps instead of running one after the other.
  const pool = createPool({ config, tokenizerPath }, config.workers, config.docTimeoutMs, config.workerHeapMb);
  try {
    const timing = { started, tokenizerSeconds, passStart };
    return await documentPass(config, hooks, { timing, stateDir, tokenizerPath, trainedHere, pool });
  } finally {
    await pool.close();
  }
}

async function documentPass(
  config: PreprocessConfig,
  hooks: PreprocessHooks,
  setup: {
    timing: { started: number; tokenizerSeconds: number; passStart: number };
    stateDir: string;
    tokenizerPath: string;
    trainedHere: boolean;
    pool: DocumentPool;
  },
): Promise<Manifest> {
  const log = hooks.log ?? (() => {});
  const { stateDir, tokenizerPath, trainedHere, pool } = setup;
  const { started, tokenizerSeconds, passStart } = setup.timing;
  const tokenizer = await Tokenizer.load(tokenizerPath, { imageCodes: config.imageCodes });
  await writeVocabJson(join(config.out, 'vocab.json'), tokenizer);
  log(
    `tokenizer: ${tokenizerPath} (${tokenizer.layout.size} ids, shards as ${tokenizer.layout.dtype}${trainedHere ? ', trained on this input' : ''})`,
  );

  const done = await loadChunkRecords(stateDir);
  const firstChunk = done.length;
  if (firstChunk > 0) log(`resuming: chunks 0..${firstChunk - 1} are complete, continuing at chunk ${firstChunk}`);
  // The dedup index as the finished chunks left it: their documents, indexed again in order.
  const bands = config.dedup === 'near' ? config.minhash.bands : 0;
  const dedup = new DedupIndex(config.dedup, bands);
  const indexed: KeptKeys[] = done.flatMap((c, i) =>
    c.dedupKeys
      ? unpackKeys(Buffer.from(c.dedupKeys, 'base64'), join(stateDir, `chunk-${String(i).padStart(5, '0')}.json`))
      : [],
  );
  for (const keys of indexed) dedup.check(keys, 'a document of an earlier run');

  const sourceStats = newSourceStats();
  const totalBytes = await inputBytes(config.inputs);
  const progress = hooks.progress ? new Progress({ label: 'preprocess', total: totalBytes }) : undefined;
  const stageMs: Record<string, number> = {};
  let bytesSeen = 0;
  let docsThisRun = 0;
  let bytesThisRun = 0;
  let tokensThisRun = 0;
  let chunk: ChunkWriter | undefined;
  let domains = done.at(-1)?.domains ?? {};
  const metas = new Map<number, DocMeta & { bytes: number }>();

  const finishChunk = async (): Promise<void> => {
    if (!chunk) return;
    const record = await chunk.finalize();
    await writeJsonAtomic(join(stateDir, `chunk-${String(record.chunk).padStart(5, '0')}.json`), record);
    done.push(record);
    domains = record.domains;
    chunk = undefined;
  };

  const deliver = async (res: DocumentResult): Promise<void> => {
    const meta = metas.get(res.index)!;
    metas.delete(res.index);
    const k = Math.floor(res.index / config.shardDocs);
    if (chunk && chunk.record.chunk !== k) await finishChunk();
    chunk ??= new ChunkWriter(
      config.out,
      k,
      tokenizer.layout.dtype,
      tokenizer.layout.eos,
      config.maxDocTokens,
      domains,
      bands,
    );
    const rec = chunk.record;
    rec.documentsIn++;
    rec.bytes += meta.bytes;
    if (meta.imagesDropped) addCounts(rec.images.dropped, meta.imagesDropped);
    if (res.lang !== undefined) rec.languages[res.lang] = (rec.languages[res.lang] ?? 0) + 1;
    if (!res.ok) {
      chunk.skip(meta, res.reason, res.detail);
      if (res.reason === 'DOC_LANGUAGE') chunk.filtered('language', res.chars ?? 0);
      return;
    }
    for (const [name, ms] of Object.entries(res.ms)) stageMs[name] = (stageMs[name] ?? 0) + ms;
    rec.images.encoded += res.imagesEncoded;
    addCounts(rec.images.dropped, res.imagesDropped);
    for (const [rule, s] of Object.entries(res.minimizeStats)) {
      const r = (rec.minimize[rule] ??= { nodes: 0, chars: 0 });
      r.nodes += s.nodes;
      r.chars += s.chars;
    }
    const split = splitOf(documentIdentity(meta), config.seed, config.validFraction);
    if (res.dedup) {
      const verdict = dedup.check(res.dedup, meta.source);
      chunk.deduplicated(meta, verdict, res.chars ?? 0);
      // An exact repeat adds nothing to the index; a near duplicate's bands extend it (filter/dedup.ts).
      if (verdict.keep || verdict.reason === 'NEAR_DUPLICATE')
        chunk.keys.push({ ...res.dedup, split: verdict.keep ? split : 'dropped', chars: res.chars ?? 0 });
      if (!verdict.keep) return;
    }
    const domain = chunk.domainId(domainKey(meta, config.domainBy));
    chunk.add(split, { ...meta, lang: res.lang }, domain, res.tokens!, res.windows);
    tokensThisRun += res.tokens!.length + (res.windows ? 0 : 1);
  };

  // The documents of this run: those of this shard (renumbered 0.. within it), in chunks not completed by an earlier run.
  let shardIndex = 0;
  async function* toProcess(): AsyncGenerator<RawDocument> {
    for await (const raw of readSources(config.inputs, {
      stats: sourceStats,
      maxFileBytes: config.maxDocBytes,
      warc: { images: config.images !== 'none' },
    })) {
      bytesSeen += raw.bytes.length;
      if (config.shard) {
        if (shardOf(shardIdentity(raw), config.shard.count) !== config.shard.index) continue;
        raw.index = shardIndex++;
      }
      if (Math.floor(raw.index / config.shardDocs) < firstChunk) continue;
      const { index, source, url, kind, language, relPath, imagesDropped } = raw;
      metas.set(index, { index, source, url, kind, language, relPath, imagesDropped, bytes: raw.bytes.length });
      docsThisRun++;
      bytesThisRun += raw.bytes.length;
      yield raw;
    }
  }

  const runner = new OrderedRunner<DocumentResult[]>(inFlight(config.workers), async (results) => {
    for (const res of results) await deliver(res);
  });
  try {
    for await (const docs of batchDocuments(toProcess(), batchLimitsFor(config))) {
      await runner.submit(() => pool.run({ docs, until: 'cm3' }));
      const secs = progress?.elapsed() ?? 1;
      progress?.update(bytesSeen, {
        docs: formatCount(docs[docs.length - 1].index + 1),
        ...(totalBytes === undefined ? { MB: (bytesSeen / 1e6).toFixed(0) } : {}),
        'docs/s': (docsThisRun / secs).toFixed(1),
        'MB/s': (bytesThisRun / 1e6 / secs).toFixed(2),
        'tok/s': formatCount(tokensThisRun / secs),
      });
    }
    await runner.finish();
    await finishChunk();
  } catch (err) {
    chunk?.abort();
    throw err;
  }
  const seconds = (performance.now() - passStart) / 1000;
  progress?.finish({
    docs: formatCount(docsThisRun),
    'MB/s': (bytesThisRun / 1e6 / seconds).toFixed(2),
    'tok/s': formatCount(tokensThisRun / seconds),
  });

  const manifest = buildManifest({
    config: outputConfig(config),
    inputs: config.inputs,
    chunks: done,
    sourceStats,
    tokenizer,
    trainedHere,
    steps: filterSteps(config),
    // Throughput is over the document pass only; tokenizer training (pass 1) is timed on its own.
    timing: {
      seconds,
      tokenizerSeconds,
      totalSeconds: (performance.now() - started) / 1000,
      workers: config.workers,
      resumedFromChunk: firstChunk,
      documents: docsThisRun,
      bytes: bytesThisRun,
      tokens: tokensThisRun,
      docsPerSecond: docsThisRun / seconds,
      mbPerSecond: bytesThisRun / 1e6 / seconds,
      tokensPerSecond: tokensThisRun / seconds,
      stageMs,
    },
  });
  await writeSkipped(join(config.out, 'skipped.jsonl'), done, sourceStats);
  if (config.dedup !== 'none') {
    const all = done.flatMap((c, i) =>
      c.dedupKeys ? unpackKeys(Buffer.from(c.dedupKeys, 'base64'), `chunk ${i}`) : [],
    );
    await writeFileAtomic(join(config.out, 'dedup.bin'), packKeys(all, bands));
  }
  await writeJsonAtomic(join(config.out, 'manifest.json'), manifest);
  return manifest;
}

/** The filter steps a configuration runs, as the manifest names them. */
function filterSteps(config: PreprocessConfig): string[] {
  return [
    ...(config.languages !== 'all' ? ['language'] : []),
    ...(config.dedup !== 'none' ? ['dedup-exact'] : []),
    ...(config.dedup === 'near' ? ['dedup-near'] : []),
  ];
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}
