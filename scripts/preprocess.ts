// `npm run preprocess`: parse flags, resolve the config, run the pipeline. With no --input it
// preprocesses the bundled sample (data/sample) into out/sample. Images are encoded with the bundled
// VQGAN (data/vqgan) unless --images none or another --vqgan is given.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, numberFlag, choiceFlag, runMain, type CommandSpec } from '../src/cli/index.js';
import {
  DEFAULT_PREPROCESS,
  loadConfiguredImageTokenizer,
  preprocess,
  resolveShard,
  shardFolder,
  type PreprocessConfig,
} from '../src/pipeline/index.js';
import { parseLanguages } from '../src/filter/index.js';

/** The image tokenizer shipped with the repository, used by default when present. */
const BUNDLED_VQGAN = fileURLToPath(new URL('../../data/vqgan', import.meta.url));
const bundledVqgan = (): string | undefined =>
  existsSync(`${BUNDLED_VQGAN}/model.safetensors`) ? BUNDLED_VQGAN : undefined;
import { HyperlmError } from '../src/errors.js';

const D = DEFAULT_PREPROCESS;
const spec: CommandSpec = {
  usage: 'npm run preprocess -- [--input PATH]... [--out DIR] [options]',
  summary:
    'HTML pages (folders, WARC/WARC.gz, JSONL) and source files → minimized HTML/code → SentencePiece +\n' +
    'image tokens → (optional static CM3 masking) → Megatron-LM shards, manifest.json and vocab.json in DIR.\n' +
    'Rerunning the same command after an interruption resumes where it stopped.',
  flags: {
    input: {
      type: 'string',
      multiple: true,
      arg: 'PATH',
      help: 'folder, .warc[.gz] or .jsonl[.gz]',
      default: 'data/sample',
    },
    out: { type: 'string', arg: 'DIR', help: 'output folder', default: 'out/sample' },
    tokenizer: { type: 'string', arg: 'FILE', help: 'use this tokenizer.model instead of training one on the input' },
    'vocab-size': {
      type: 'string',
      arg: 'N',
      help: 'pieces of a tokenizer trained here',
      default: `${D.vocabSize} (4000 for the bundled sample)`,
    },
    'tokenizer-sample-mb': {
      type: 'string',
      arg: 'MB',
      help: 'minimized text used to train the tokenizer',
      default: String(D.tokenizerSampleMb),
    },
    images: {
      type: 'string',
      arg: 'none|vqgan',
      help: '`none` keeps <img> alt/title only; `vqgan` encodes images into codes',
      default: 'vqgan when data/vqgan exists, else none',
    },
    vqgan: { type: 'string', arg: 'RUN', help: 'VQGAN run folder or bundle for --images vqgan', default: 'data/vqgan' },
    'image-codes': {
      type: 'string',
      arg: 'N',
      help: 'image-code block size in the vocabulary (must equal the VQGAN codebook)',
      default: `the VQGAN's codebook size, else ${D.imageCodes}`,
    },
    workers: { type: 'string', arg: 'N', help: 'worker threads (0 = in this thread)', default: 'cores' },
    seed: { type: 'string', arg: 'N', help: 'seed for the split and static masks', default: String(D.seed) },
    'valid-fraction': {
      type: 'string',
      arg: 'F',
      help: 'fraction of documents in valid-*',
      default: `${D.validFraction} (0.1 for the bundled sample)`,
    },
    'max-doc-tokens': {
      type: 'string',
      arg: 'N',
      help: 'longer documents are split into sequences',
      default: String(D.maxDocTokens),
    },
    'shard-docs': {
      type: 'string',
      arg: 'N',
      help: 'input documents per shard (unit of resumption)',
      default: String(D.shardDocs),
    },
    'cm3-static': { type: 'boolean', help: 'apply the CM3 transform here, for external trainers (Megatron-LM)' },
    'cm3-window': {
      type: 'string',
      arg: 'N',
      help: 'with --cm3-static: mask within windows for a model of blockSize N (one sequence of ≤ N+1 tokens each), as the hyperlm loader does; 0 = whole documents',
      default: String(D.cm3Window),
    },
    'max-masks': { type: 'string', arg: 'N', help: 'CM3: most masked spans per document', default: String(D.maxMasks) },
    'domain-by': {
      type: 'string',
      arg: 'host|folder|kind',
      help: 'what names a document domain (DEMix experts)',
      default: D.domainBy,
    },
    'min-text-ratio': {
      type: 'string',
      arg: 'F',
      help: 'skip pages whose text/HTML ratio is below this',
      default: String(D.minTextRatio),
    },
    'doc-timeout-ms': {
      type: 'string',
      arg: 'MS',
      help: 'skip a document that takes longer in a worker',
      default: String(D.docTimeoutMs),
    },
    'max-doc-bytes': { type: 'string', arg: 'N', help: 'skip larger documents', default: String(D.maxDocBytes) },
    shard: {
      type: 'string',
      arg: 'I/N|auto',
      help: 'preprocess shard I of N into DIR/shard-IIIII-of-NNNNN (auto: from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX); needs --tokenizer',
    },
    shards: {
      type: 'string',
      arg: 'N',
      help: 'shard count for --shard auto in a Kubernetes Indexed Job (its completions)',
    },
    dedup: {
      type: 'string',
      arg: 'exact|near|none',
      help: 'drop repeated documents (near: also MinHash near duplicates)',
      default: D.dedup,
    },
    'minhash-bands': { type: 'string', arg: 'B', help: 'near dedup: LSH bands', default: String(D.minhash.bands) },
    'minhash-rows': { type: 'string', arg: 'R', help: 'near dedup: hashes per band', default: String(D.minhash.rows) },
    'minhash-ngrams': {
      type: 'string',
      arg: 'N',
      help: 'near dedup: words per shingle',
      default: String(D.minhash.ngrams),
    },
    languages: {
      type: 'string',
      arg: 'en,de…|all',
      help: 'keep HTML documents in these languages (ISO 639-1; code is exempt)',
      default: 'all',
    },
    quiet: { type: 'boolean', help: 'no progress output' },
  },
  epilog:
    'Output: DIR/{train,valid}-NNNNN.{bin,idx} (Megatron-LM MMIDIDX), DIR/{train,valid}-NNNNN.docs.jsonl,\n' +
    'DIR/manifest.json, DIR/vocab.json, DIR/tokenizer.model, DIR/skipped.jsonl, DIR/dedup.bin. See README "Data formats".\n' +
    'Sharded: each shard writes DIR/shard-IIIII-of-NNNNN; `npm run merge -- --out MERGED DIR/shard-*` joins them.',
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const sample = values.input === undefined;
  const imagesMode = choiceFlag(
    values,
    'images',
    ['none', 'vqgan'] as const,
    values.vqgan !== undefined || bundledVqgan() ? 'vqgan' : 'none',
  );
  const vqganRun = imagesMode === 'vqgan' ? ((values.vqgan as string | undefined) ?? bundledVqgan()) : undefined;
  if (imagesMode === 'vqgan' && !vqganRun)
    throw new HyperlmError('CLI_BAD_FLAG', '--images vqgan needs --vqgan RUN (no bundled model in data/vqgan)');
  // Absolute, so that `inspect` finds the VQGAN from the manifest's config wherever it runs.
  const vqgan = vqganRun ? resolve(vqganRun) : undefined;
  // tfjs and the VQGAN are imported only when images are encoded: their load is half a second of start-up.
  const codebook = vqgan
    ? (await (await import('../src/vqgan/index.js')).loadImageTokenizer(vqgan)).codebookSize
    : D.imageCodes;
  const inputs = sample ? [fileURLToPath(new URL('../../data/sample', import.meta.url))] : (values.input as string[]);
  const shard =
    values.shard === undefined
      ? undefined
      : resolveShard(
          values.shard as string,
          values.shards === undefined ? undefined : numberFlag(values, 'shards', 1, { integer: true, min: 1 }),
        );
  const outFlag = (values.out as string | undefined) ?? 'out/sample';
  const config: PreprocessConfig = {
    ...D,
    inputs,
    out: shard ? shardFolder(outFlag, shard) : outFlag,
    shard,
    dedup: choiceFlag(values, 'dedup', ['exact', 'near', 'none'] as const, D.dedup),
    minhash: {
      ...D.minhash,
      bands: numberFlag(values, 'minhash-bands', D.minhash.bands, { integer: true, min: 1, max: 1024 }),
      rows: numberFlag(values, 'minhash-rows', D.minhash.rows, { integer: true, min: 1, max: 1024 }),
      ngrams: numberFlag(values, 'minhash-ngrams', D.minhash.ngrams, { integer: true, min: 1, max: 64 }),
    },
    languages: values.languages === undefined ? D.languages : parseLanguages(values.languages as string),
    tokenizer: values.tokenizer as string | undefined,
    vocabSize: numberFlag(values, 'vocab-size', sample ? 4000 : D.vocabSize, { integer: true, min: 300 }),
    tokenizerSampleMb: numberFlag(values, 'tokenizer-sample-mb', D.tokenizerSampleMb, { min: 0.001 }),
    images: imagesMode,
    vqgan,
    imageCodes: numberFlag(values, 'image-codes', codebook, { integer: true, min: 1 }),
    workers: numberFlag(values, 'workers', D.workers, { integer: true, min: 0, max: 256 }),
    seed: numberFlag(values, 'seed', D.seed, { integer: true }),
    validFraction: numberFlag(values, 'valid-fraction', sample ? 0.1 : D.validFraction, { min: 0, max: 1 }),
    maxDocTokens: numberFlag(values, 'max-doc-tokens', D.maxDocTokens, { integer: true, min: 1 }),
    shardDocs: numberFlag(values, 'shard-docs', D.shardDocs, { integer: true, min: 1 }),
    cm3Static: Boolean(values['cm3-static']),
    cm3Window: numberFlag(values, 'cm3-window', D.cm3Window, { integer: true, min: 0 }),
    maxMasks: numberFlag(values, 'max-masks', D.maxMasks, { integer: true, min: 1, max: 256 }),
    domainBy: choiceFlag(values, 'domain-by', ['host', 'folder', 'kind'] as const, D.domainBy),
    minTextRatio: numberFlag(values, 'min-text-ratio', D.minTextRatio, { min: 0, max: 1 }),
    docTimeoutMs: numberFlag(values, 'doc-timeout-ms', D.docTimeoutMs, { integer: true, min: 1 }),
    maxDocBytes: numberFlag(values, 'max-doc-bytes', D.maxDocBytes, { integer: true, min: 1 }),
  };
  if (config.cm3Window > 0 && !config.cm3Static)
    throw new HyperlmError(
      'CLI_BAD_FLAG',
      `--cm3-window ${config.cm3Window} needs --cm3-static (the hyperlm loader cuts windows itself)`,
    );
  if (config.cm3Window + 1 > config.maxDocTokens) {
    throw new HyperlmError(
      'CLI_BAD_FLAG',
      `--cm3-window ${config.cm3Window}: windows of ${config.cm3Window + 1} tokens exceed --max-doc-tokens ${config.maxDocTokens}`,
    );
  }
  await loadConfiguredImageTokenizer(config); // fails here, once, on a missing model or a codebook/vocabulary mismatch
  const quiet = Boolean(values.quiet);
  const manifest = await preprocess(config, {
    log: quiet ? undefined : (l) => console.error(l),
    warn: (l) => console.error(l),
    progress: !quiet,
  });
  const { documents, tokens, skipped, images } = manifest;
  if (shard) console.log(`shard ${shard.index}/${shard.count} → ${config.out}`);
  console.log(
    `${config.out}: ${documents.out}/${documents.in} documents (train ${documents.train}, valid ${documents.valid}), ` +
      `${tokens.total} tokens, images ${images.encoded} encoded; skipped ${JSON.stringify(skipped)}`,
  );
});
