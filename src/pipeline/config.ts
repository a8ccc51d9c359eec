// The preprocessing job's configuration: one typed object, defaults with the reason for each, resolved
// once from the command line. The resolved object is saved in the manifest beside the shards.
// Defaults follow the anchors where they apply: CM3's image codes and masks, Megatron's 1% validation
// split, datatrove's MinHash parameters, HTLM's text-to-HTML filter (with a lower threshold, see
// minTextRatio). Unlike Megatron's preprocess_data.py flags, output-affecting fields are checked on
// resume (run-state.ts) and workers/timeouts are not part of the output's identity.
import { cpus } from 'node:os';
import { DEFAULT_MINHASH, type MinhashConfig } from '../filter/minhash.js';
import type { DedupMode } from '../filter/dedup.js';
import type { ShardSpec } from './shard.js';

export type ImagesMode = 'none' | 'vqgan';
export type DomainBy = 'host' | 'folder' | 'kind';

export interface PreprocessConfig {
  /** Input paths: folders, .warc/.warc.gz, .jsonl/.jsonl.gz. */
  inputs: string[];
  /** Output folder (shards, manifest, vocab, tokenizer). */
  out: string;
  /** Existing tokenizer.model to use; undefined → train one on this input first (saved as DIR/tokenizer.model). */
  tokenizer?: string;
  /** Vocabulary size of a tokenizer trained here. 16k: spm's usual size for a few hundred MB; capped by the data. */
  vocabSize: number;
  /** Megabytes of minimized text (taken in input order) used to train the tokenizer; more text, slower training, diminishing gain. */
  tokenizerSampleMb: number;
  /** How `<img>` becomes tokens: `none` keeps alt/title only; `vqgan` encodes each image into codes. */
  images: ImagesMode;
  /** VQGAN run folder for `--images vqgan`. */
  vqgan?: string;
  /** Size of the image-code block reserved in the vocabulary (the VQGAN codebook); CM3 used 8192. */
  imageCodes: number;
  /** Worker threads; one per core is where a CPU-bound pool saturates. */
  workers: number;
  /** Seed for the train/valid split and for static CM3 masks; output is a function of (input, config). */
  seed: number;
  /** Fraction of documents (by hash) in the validation split; Megatron's usual 1% for large crawls. */
  validFraction: number;
  /** Documents longer than this many tokens are split into consecutive sequences. */
  maxDocTokens: number;
  /** Input documents per shard chunk (the unit of resumption: a killed run redoes at most one chunk). */
  shardDocs: number;
  /** Apply the CM3 transform once here (for external trainers); hyperlm's own loader applies it per epoch. */
  cm3Static: boolean;
  /**
   * With cm3Static: cut each document into CM3 windows for a model of this blockSize (each window, masked
   * on its own, is one sequence of at most cm3Window + 1 tokens; see cm3-window.ts); 0 masks whole
   * documents as before. The hyperlm loader refuses a mismatch with the model's blockSize.
   */
  cm3Window: number;
  /** CM3: most masked spans per document (CM3: 16). */
  maxMasks: number;
  /** How a document's domain (for DEMix experts) is named: its web host, its top folder, or html/code. */
  domainBy: DomainBy;
  /**
   * HTLM's text-to-HTML ratio filter; pages below it are skipped and counted. HTLM used 0.46 on Common
   * Crawl, but that would skip most of the real documentation pages in ../shared/corpus (BENCHMARKS.md);
   * 0.02 skips only near-empty stubs (a title plus inline CSS). Raise it for raw crawls.
   */
  minTextRatio: number;
  /** A document that takes longer than this in a worker is skipped (the worker is replaced). */
  docTimeoutMs: number;
  /** Documents larger than this are skipped before parsing (bounded worker memory). */
  maxDocBytes: number;
  /** Heap limit of each worker thread (a page of tens of MB needs a DOM of a few GB). Not a containment: V8 may abort the whole process on a worker's fatal OOM, so maxDocBytes bounds what reaches a worker. */
  workerHeapMb: number;
  /** Resolution images are loaded at (CM3: 256). */
  imageSize: number;
  /** Decompression-bomb guard: images declaring more pixels than this are dropped. */
  maxImagePixels: number;
  /** This machine's part of the input (`--shard I/N`, see shard.ts); undefined: the whole input. */
  shard?: ShardSpec;
  /**
   * `exact` drops repeats of a minimized document (one sha256 each, a small share of the per-page cost);
   * `near` also drops MinHash near duplicates (same page, other template or a few words changed; costs
   * more, see BENCHMARKS.md); `none` keeps everything. Every crawl pipeline (CCNet, Gopher, datatrove) deduplicates.
   */
  dedup: DedupMode;
  /** MinHash/LSH parameters for `dedup: 'near'` (datatrove's defaults; shards of one corpus must agree). */
  minhash: MinhashConfig;
  /**
   * ISO 639-1 codes of the HTML documents kept (and `und`, too little text to tell), or `all`: nothing is
   * detected or dropped. `all` by default, for folders of documentation as for crawls: HTLM kept
   * English only, pass `--languages en` for that. Code documents are never filtered.
   */
  languages: string[] | 'all';
}

export const DEFAULT_PREPROCESS: Omit<PreprocessConfig, 'inputs' | 'out'> = {
  vocabSize: 16000,
  tokenizerSampleMb: 64,
  images: 'none',
  imageCodes: 8192,
  workers: Math.max(1, cpus().length),
  seed: 1234,
  validFraction: 0.01,
  maxDocTokens: 32768,
  shardDocs: 5000,
  cm3Static: false,
  cm3Window: 0,
  maxMasks: 16,
  domainBy: 'folder',
  minTextRatio: 0.02,
  docTimeoutMs: 60_000,
  maxDocBytes: 64 * 1024 * 1024,
  workerHeapMb: 4096,
  imageSize: 256,
  maxImagePixels: 40_000_000,
  dedup: 'exact',
  minhash: DEFAULT_MINHASH,
  languages: 'all',
};
