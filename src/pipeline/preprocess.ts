// The preprocessing job: inputs → (pass 1: minimize a sample and train the tokenizer, unless one is
// given) → pass 2: every document through the worker pipeline → Megatron shards in chunks → manifest.
// Output depends only on the inputs and the configuration: results are written in input order
// whatever the number of workers, and a rerun after a kill resumes at the first unfinished chunk.
import { statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { documentIdentity } from '../data/document.js';
import { readSources, newSourceStats, type SourceStats } from '../data/sources.js';
import { fileKindForPath } from '../data/walk.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { trainBpe } from '../tokenize/bpe-trainer.js';
import { writeVocabJson } from '../tokenize/vocab.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic-file.js';
import { Progress, formatCount } from '../io/progress.js';
import type { PreprocessConfig } from './config.js';
import { createPool } from './pool.js';
import { OrderedRunner } from './reorder.js';
import { ChunkWriter, domainKey, splitOf, type ChunkRecord, type DocMeta } from './chunk.js';
import { buildManifest, type Manifest } from './manifest.js';
import { batchDocuments, batchLimitsFor, type DocumentResult } from './task.js';
import type { RawDocument } from '../data/document.js';
import type { StageName } from './process-document.js';

export interface PreprocessHooks {
  log?: (line: string) => void;
  /** Show a progress bar / periodic progress lines on stderr. */
  progress?: boolean;
}

/** Config fields that change the output; `workers` and timeouts do not, so a resume may change them. */
function outputConfig(config: PreprocessConfig): Record<string, unknown> {
  const { workers: _w, docTimeoutMs: _t, workerHeapMb: _h, out: _o, cm3Window, ...rest } = config;
  // cm3Window only when set, so folders written before it existed still resume
  return cm3Window > 0 ? { ...rest, cm3Window } : rest;
}

export async function preprocess(config: PreprocessConfig, hooks: PreprocessHooks = {}): Promise<Manifest> {
  const log = hooks.log ?? (() => {});
  const started = performance.now();
  const stateDir = join(config.out, '.state');
  await mkdir(stateDir, { recursive: true });
  await checkSameConfig(join(stateDir, 'config.json'), outputConfig(config));
  await removeTemps(config.out);

  const tokenizerPath = join(config.out, 'tokenizer.model');
  const trainedHere = await ensureTokenizer(config, tokenizerPath, hooks);
  const tokenizer = await Tokenizer.load(tokenizerPath, { imageCodes: config.imageCodes });
  await writeVocabJson(join(config.out, 'vocab.json'), tokenizer);
  log(`tokenizer: ${tokenizerPath} (${tokenizer.layout.size} ids, shards as ${tokenizer.layout.dtype}${trainedHere ? ', trained on this input' : ''})`);

  const done = await loadChunkRecords(stateDir);
  const firstChunk = done.length;
  if (firstChunk > 0) log(`resuming: chunks 0..${firstChunk - 1} are complete, continuing at chunk ${firstChunk}`);

  const tokenizerSeconds = (performance.now() - started) / 1000;
  const passStart = performance.now();
  const sourceStats = newSourceStats();
  const totalBytes = await inputBytes(config.inputs);
  const progress = hooks.progress ? new Progress({ label: 'preprocess', total: totalBytes }) : undefined;
  const pool = createPool({ config, tokenizerPath }, config.workers, config.docTimeoutMs, config.workerHeapMb);
  const stageMs: Record<string, number> = {};
  let bytesSeen = 0; let docsThisRun = 0; let bytesThisRun = 0; let tokensThisRun = 0;
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
    chunk ??= new ChunkWriter(config.out, k, tokenizer.layout.dtype, tokenizer.layout.eos, config.maxDocTokens, domains);
    const rec = chunk.record;
    rec.documentsIn++;
    rec.bytes += meta.bytes;
    if (!res.ok) {
      chunk.skip(meta, res.reason, res.detail);
      return;
    }
    for (const [name, ms] of Object.entries(res.ms)) stageMs[name] = (stageMs[name] ?? 0) + ms;
    rec.images.encoded += res.imagesEncoded;
    addCounts(rec.images.dropped, res.imagesDropped);
    for (const [rule, s] of Object.entries(res.minimizeStats)) {
      const r = (rec.minimize[rule] ??= { nodes: 0, chars: 0 });
      r.nodes += s.nodes; r.chars += s.chars;
    }
    const domain = chunk.domainId(domainKey(meta, config.domainBy));
    chunk.add(splitOf(documentIdentity(meta), config.seed, config.validFraction), meta, domain, res.tokens!, res.windows);
    tokensThisRun += res.tokens!.length + (res.windows ? 0 : 1);
  };

  // The documents of this run: those of chunks not completed by an earlier run.
  async function* toProcess(): AsyncGenerator<RawDocument> {
    for await (const raw of readSources(config.inputs, { stats: sourceStats, maxFileBytes: config.maxDocBytes })) {
      bytesSeen += raw.bytes.length;
      if (Math.floor(raw.index / config.shardDocs) < firstChunk) continue;
      const { index, source, url, kind, language, relPath } = raw;
      metas.set(index, { index, source, url, kind, language, relPath, bytes: raw.bytes.length });
      docsThisRun++; bytesThisRun += raw.bytes.length;
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
        docs: formatCount(docs[docs.length - 1].index + 1), 'docs/s': (docsThisRun / secs).toFixed(1),
        'MB/s': (bytesThisRun / 1e6 / secs).toFixed(2), 'tok/s': formatCount(tokensThisRun / secs),
      });
    }
    await runner.finish();
    await finishChunk();
  } catch (err) {
    chunk?.abort();
    throw err;
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - passStart) / 1000;
  progress?.finish({ docs: formatCount(docsThisRun), 'MB/s': (bytesThisRun / 1e6 / seconds).toFixed(2), 'tok/s': formatCount(tokensThisRun / seconds) });

  const manifest = buildManifest({
    config: outputConfig(config), inputs: config.inputs, chunks: done, sourceStats, tokenizer, trainedHere,
    // Throughput is over the document pass only; tokenizer training (pass 1) is timed on its own.
    timing: {
      seconds, tokenizerSeconds, totalSeconds: (performance.now() - started) / 1000, workers: config.workers, resumedFromChunk: firstChunk, documents: docsThisRun, bytes: bytesThisRun,
      tokens: tokensThisRun, docsPerSecond: docsThisRun / seconds, mbPerSecond: bytesThisRun / 1e6 / seconds,
      tokensPerSecond: tokensThisRun / seconds, stageMs,
    },
  });
  await writeSkipped(join(config.out, 'skipped.jsonl'), done, sourceStats);
  await writeJsonAtomic(join(config.out, 'manifest.json'), manifest);
  return manifest;
}

/**
 * Batches submitted and not yet written. Results are written in input order, so one slow batch holds
 * back the finished ones behind it and they count against this limit: with 2 per worker a worker sat
 * idle ~5% of the run. 8 per worker is at most ~4 MB of pages and tokens (BATCH_LIMITS).
 */
function inFlight(workers: number): number {
  return Math.max(8, workers * 8);
}

/** Pass 1: copy a given tokenizer, reuse one trained by an earlier (interrupted) run, or train one. */
async function ensureTokenizer(config: PreprocessConfig, tokenizerPath: string, hooks: PreprocessHooks): Promise<boolean> {
  if (config.tokenizer) {
    await writeFileAtomic(tokenizerPath, await readFile(config.tokenizer).catch((err: unknown) => {
      throw new HyperlmError('INPUT_NOT_FOUND', `--tokenizer ${config.tokenizer}: ${(err as Error).message}`);
    }));
    return false;
  }
  if (await exists(tokenizerPath)) return true;
  const log = hooks.log ?? (() => {});
  const budget = config.tokenizerSampleMb * 1e6;
  const texts: string[] = [];
  let chars = 0;
  let full = false;
  const pool = createPool({ config }, config.workers, config.docTimeoutMs, config.workerHeapMb);
  const progress = hooks.progress ? new Progress({ label: 'tokenizer sample', total: budget }) : undefined;
  const runner = new OrderedRunner<DocumentResult[]>(inFlight(config.workers), (results) => {
    for (const res of results) {
      if (full || !res.ok || !res.text) continue;
      texts.push(res.text);
      chars += res.text.length;
      full = chars >= budget;
    }
    progress?.update(chars, { docs: String(texts.length) });
  });
  try {
    // Pass 1 stops after minimization (no images), so it is batched whatever --images says.
    for await (const docs of batchDocuments(readSources(config.inputs, { stats: newSourceStats(), maxFileBytes: config.maxDocBytes }))) {
      if (full) break;
      const until: StageName = 'minimize';
      await runner.submit(() => pool.run({ docs, until }));
    }
    await runner.finish();
  } finally {
    await pool.close();
  }
  progress?.finish({ docs: String(texts.length), chars: formatCount(chars) });
  if (texts.length === 0) throw new HyperlmError('INPUT_NOT_FOUND', `no usable documents in ${config.inputs.join(', ')} to train a tokenizer on`);
  log(`training a ${config.vocabSize}-piece BPE tokenizer on ${formatCount(chars)} characters of ${texts.length} documents`);
  const trainProgress = hooks.progress ? new Progress({ label: 'train tokenizer', total: 1 }) : undefined;
  const model = trainBpe(texts, {
    vocabSize: config.vocabSize, maxMasks: config.maxMasks, imageCodes: config.imageCodes,
    onProgress: trainProgress ? (phase, done, total) => trainProgress.update(done / Math.max(1, total), { phase, done: `${done}/${total}` }) : undefined,
  });
  trainProgress?.finish();
  await writeFileAtomic(tokenizerPath, model);
  return true;
}

async function checkSameConfig(path: string, current: Record<string, unknown>): Promise<void> {
  if (await exists(path)) {
    const before = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(current)])) {
      if (JSON.stringify(before[key]) !== JSON.stringify(current[key])) {
        throw new HyperlmError('CONFIG_BAD_VALUE', `${path}: this output folder was written with ${key}=${JSON.stringify(before[key])}, now ${JSON.stringify(current[key])}; use another --out or delete the folder`);
      }
    }
    return;
  }
  await writeJsonAtomic(path, current);
}

async function loadChunkRecords(stateDir: string): Promise<ChunkRecord[]> {
  const names = (await readdir(stateDir)).filter((n) => /^chunk-\d{5}\.json$/.test(n)).sort();
  const records: ChunkRecord[] = [];
  // Only a contiguous prefix counts: chunks are finalized in order.
  for (const [i, name] of names.entries()) {
    if (name !== `chunk-${String(i).padStart(5, '0')}.json`) break;
    records.push(JSON.parse(await readFile(join(stateDir, name), 'utf8')) as ChunkRecord);
  }
  return records;
}

/** Temp files of an interrupted run (`*.tmp`) are never part of the output. */
async function removeTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
}

async function writeSkipped(path: string, chunks: ChunkRecord[], sources: SourceStats): Promise<void> {
  const lines = [
    ...sources.errors.map((e) => JSON.stringify({ stage: 'read', reason: e.code, source: e.where, detail: e.message })),
    ...chunks.flatMap((c) => c.skips.map((s) => JSON.stringify({ stage: 'document', index: s.index, reason: s.reason, source: s.source, detail: s.detail }))),
  ];
  await writeFileAtomic(path, lines.map((l) => l + '\n').join(''));
}

async function inputBytes(inputs: string[]): Promise<number> {
  let total = 0;
  for (const input of inputs) {
    const s = await stat(input).catch(() => undefined);
    if (!s) throw new HyperlmError('INPUT_NOT_FOUND', `--input ${input}: no such file or folder`);
    if (s.isFile()) { total += s.size; continue; }
    for (const entry of await readdir(input, { recursive: true, withFileTypes: true })) {
      // Only files that become documents count (images are read through pages).
      // statSync: thousands of awaited fs.promises.stat calls cost ~0.2 s of CPU taken from the workers.
      if (entry.isFile() && fileKindForPath(entry.name).kind !== 'skip') total += statSync(join(entry.parentPath, entry.name)).size;
    }
  }
  return total;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

