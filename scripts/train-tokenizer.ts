// `npm run train-tokenizer -- --input PATH… --out FILE.model`: trains the project's SentencePiece BPE
// model (src/tokenize/bpe-trainer.ts) on HTML and code files and writes FILE.model plus vocab.json
// beside it. Files are read as UTF-8 text in path order (or a seeded shuffle) until --max-mb.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { choiceFlag, numberFlag, parseCommandLine, runMain, type CommandSpec } from '../src/cli/index.js';
import { formatCount, Progress, writeFileAtomic } from '../src/io/index.js';
import { listTextFiles } from '../src/data/index.js';
import { HyperlmError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import { BPE_TRAIN_DEFAULTS, Tokenizer, trainBpe, writeVocabJson } from '../src/tokenize/index.js';

const spec: CommandSpec = {
  usage: 'npm run train-tokenizer -- --input PATH... --out FILE.model [--vocab-size N] [--max-mb N] [--seed N]',
  summary:
    'Trains the SentencePiece BPE tokenizer (byte fallback, lossless) on HTML and code files and\n' +
    'writes FILE.model (loadable by sentencepiece and spm_encode) and vocab.json beside it.',
  flags: {
    input: { type: 'string', arg: 'PATH', multiple: true, help: 'a file or folder of .html/code files' },
    out: { type: 'string', arg: 'FILE.model', help: 'where to write the model' },
    'vocab-size': {
      type: 'string',
      arg: 'N',
      help: 'pieces in the spm model',
      default: String(BPE_TRAIN_DEFAULTS.vocabSize),
    },
    'max-mb': { type: 'string', arg: 'N', help: 'read at most N MB of text', default: 'all' },
    seed: {
      type: 'string',
      arg: 'N',
      help: 'shuffle the file order with this seed before --max-mb (default: path order)',
    },
    'max-masks': {
      type: 'string',
      arg: 'K',
      help: 'CM3 sentinels <mask:0..K-1>',
      default: String(BPE_TRAIN_DEFAULTS.maxMasks),
    },
    'image-codes': {
      type: 'string',
      arg: 'N',
      help: 'image code block size recorded in vocab.json',
      default: String(BPE_TRAIN_DEFAULTS.imageCodes),
    },
    'character-coverage': {
      type: 'string',
      arg: 'F',
      help: 'share of characters given their own piece',
      default: String(BPE_TRAIN_DEFAULTS.characterCoverage),
    },
    'max-piece-length': {
      type: 'string',
      arg: 'N',
      help: 'longest piece in characters',
      default: String(BPE_TRAIN_DEFAULTS.maxPieceLength),
    },
    kinds: { type: 'string', arg: 'html|code|all', help: 'which files to read', default: 'all' },
  },
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const inputs = (values.input as string[] | undefined) ?? [];
  if (inputs.length === 0) throw new HyperlmError('CLI_BAD_FLAG', '--input is required (a file or folder)');
  const out = values.out;
  if (typeof out !== 'string') throw new HyperlmError('CLI_BAD_FLAG', '--out FILE.model is required');
  const maxBytes = values['max-mb'] === undefined ? Infinity : numberFlag(values, 'max-mb', 0, { min: 0.001 }) * 1e6;
  const imageCodes = numberFlag(values, 'image-codes', BPE_TRAIN_DEFAULTS.imageCodes, { integer: true, min: 0 });
  const opts = {
    vocabSize: numberFlag(values, 'vocab-size', BPE_TRAIN_DEFAULTS.vocabSize, { integer: true, min: 300 }),
    maxMasks: numberFlag(values, 'max-masks', BPE_TRAIN_DEFAULTS.maxMasks, { integer: true, min: 0 }),
    imageCodes,
    characterCoverage: numberFlag(values, 'character-coverage', BPE_TRAIN_DEFAULTS.characterCoverage, {
      min: 0.5,
      max: 1,
    }),
    maxPieceLength: numberFlag(values, 'max-piece-length', BPE_TRAIN_DEFAULTS.maxPieceLength, {
      integer: true,
      min: 2,
    }),
  };

  const files = await listTextFiles(inputs, choiceFlag(values, 'kinds', ['html', 'code', 'all'] as const, 'all'));
  if (values.seed !== undefined) {
    Rng.fromSeed(numberFlag(values, 'seed', 0, { integer: true })).shuffle(files);
  }
  const texts: string[] = [];
  let bytes = 0;
  for (const f of files) {
    if (bytes >= maxBytes) break;
    const buf = await readFile(f);
    texts.push(buf.toString('utf8'));
    bytes += buf.length;
  }
  if (texts.length === 0)
    throw new HyperlmError('INPUT_NOT_FOUND', `no .html or code files under ${inputs.join(', ')}`);
  process.stderr.write(`read ${texts.length} files, ${formatCount(bytes)}B\n`);

  const progress = new Progress({ label: 'train-tokenizer', total: 1 });
  const model = trainBpe(texts, {
    ...opts,
    onProgress: (phase, done, total) =>
      progress.update(phase === 'merge' && total > 0 ? done / total : 0, {
        phase,
        [phase === 'merge' ? 'merges' : 'chars']: formatCount(done),
      }),
  });
  progress.finish();
  await writeFileAtomic(out, model);
  const tokenizer = await Tokenizer.fromBytes(model, { imageCodes }, out);
  const vocabPath = await writeVocabJson(dirname(resolve(out)), tokenizer);
  process.stderr.write(
    `wrote ${out} (${tokenizer.layout.spmSize} pieces, sha256 ${tokenizer.hash().slice(0, 12)}) and ${vocabPath}\n`,
  );
});
