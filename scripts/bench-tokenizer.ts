// `node dist/scripts/bench-tokenizer.js [CORPUS] [--mb N] [--vocab-size N]`: trains our BPE
// (src/tokenize/bpe-trainer.ts) and Debian's `spm_train --model_type=bpe` on the same text, then reports
// wall time, tokens per byte of both on held-out documents, and encode speed of sentencepiece-js vs
// spm_encode, as a Markdown table. Corpus: .html and code files under CORPUS (default
// /work/shared/corpus) in path order up to --mb; every 10th document is held out.

import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  COMMON_FLAGS,
  type CommandSpec,
  markdownTable,
  numberFlag,
  parseCommandLine,
  runMain,
  writeBenchmarkSection,
} from '../src/cli/index.js';
import { fileURLToPath } from 'node:url';
import { fileKindForPath, walkFolder } from '../src/data/index.js';
import { HyperlmError } from '../src/errors.js';
import { Tokenizer, trainBpe } from '../src/tokenize/index.js';

const spec: CommandSpec = {
  usage: 'node dist/scripts/bench-tokenizer.js [CORPUS] [--mb N] [--vocab-size N]',
  summary: 'Benchmarks our BPE trainer against spm_train (time, tokens/byte) and sentencepiece-js against spm_encode.',
  positionals: true,
  flags: {
    mb: { type: 'string', arg: 'N', help: 'MB of corpus text to use', default: '33' },
    'vocab-size': { type: 'string', arg: 'N', help: 'vocabulary size for both trainers', default: '16000' },
    'no-write': COMMON_FLAGS.noWrite,
  },
};

interface Doc {
  text: string;
  kind: 'html' | 'code';
}

const require = createRequire(import.meta.url);
const { SentencePieceProcessor } = require('sentencepiece-js') as {
  SentencePieceProcessor: new () => { load(p: string): Promise<void>; encodeIds(t: string): number[] };
};

function hasBinary(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function readCorpus(root: string, maxBytes: number): Promise<Doc[]> {
  const docs: Doc[] = [];
  let bytes = 0;
  for await (const e of walkFolder(root, () => {})) {
    const k = fileKindForPath(e.filePath).kind;
    if (k !== 'html' && k !== 'code') continue;
    const buf = await readFile(e.filePath);
    docs.push({ text: buf.toString('utf8'), kind: k });
    bytes += buf.length;
    if (bytes >= maxBytes) break;
  }
  return docs;
}

const secs = (t0: number): number => (performance.now() - t0) / 1000;
const utf8Bytes = (docs: Doc[]): number => docs.reduce((s, d) => s + Buffer.byteLength(d.text), 0);

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  const root = positionals[0] ?? fileURLToPath(new URL('../../../shared/corpus', import.meta.url));
  const vocabSize = numberFlag(values, 'vocab-size', 16000, { integer: true, min: 300 });
  const docs = await readCorpus(root, numberFlag(values, 'mb', 33, { min: 0.01 }) * 1e6);
  if (docs.length < 10)
    throw new HyperlmError('INPUT_NOT_FOUND', `${root}: need at least 10 .html/code files, found ${docs.length}`);
  const train = docs.filter((_, i) => i % 10 !== 9);
  const held = docs.filter((_, i) => i % 10 === 9);
  const dir = await mkdtemp(join(tmpdir(), 'hyperlm-bench-tok-'));
  const rows: string[][] = [];
  try {
    process.stderr.write(
      `corpus ${root}: ${train.length} training docs (${(utf8Bytes(train) / 1e6).toFixed(1)} MB), ` +
        `${held.length} held out (${(utf8Bytes(held) / 1e6).toFixed(1)} MB)\n`,
    );
    const trainPath = join(dir, 'train.txt');
    await writeFile(trainPath, train.map((d) => d.text).join('\n'));
    const heldPath = join(dir, 'held.txt');
    await writeFile(heldPath, held.map((d) => d.text).join('\n'));

    let t0 = performance.now();
    const ours = trainBpe(
      train.map((d) => d.text),
      { vocabSize },
    );
    const oursTrain = secs(t0);
    const oursPath = join(dir, 'ours.model');
    await writeFile(oursPath, ours);
    process.stderr.write(`ours: trained in ${oursTrain.toFixed(1)} s\n`);

    const tokensPerByte = (enc: (t: string) => number[], kind?: Doc['kind']): string => {
      const sel = held.filter((d) => kind === undefined || d.kind === kind);
      const n = sel.reduce((s, d) => s + enc(d.text).length, 0);
      return sel.length === 0 ? '–' : (n / utf8Bytes(sel)).toFixed(4);
    };
    const encodeMBs = (enc: (t: string) => number[]): string => {
      const t = performance.now();
      for (const d of held) enc(d.text);
      return (utf8Bytes(held) / 1e6 / secs(t)).toFixed(2);
    };
    const spmEncodeMBs = (model: string): string => {
      const t = performance.now();
      execFileSync('spm_encode', ['--model', model, '--output_format=id', heldPath], { maxBuffer: 1 << 30 });
      return (utf8Bytes(held) / 1e6 / secs(t)).toFixed(2);
    };

    const tok = await Tokenizer.load(oursPath);
    const oursEnc = (t: string): number[] => tok.encode(t);
    const haveSpm = hasBinary('spm_train') && hasBinary('spm_encode');
    rows.push([
      'ours (bpe-trainer.ts)',
      oursTrain.toFixed(1),
      tokensPerByte(oursEnc),
      tokensPerByte(oursEnc, 'html'),
      tokensPerByte(oursEnc, 'code'),
      encodeMBs(oursEnc),
      haveSpm ? spmEncodeMBs(oursPath) : '–',
      tok.decode(tok.encode(held[0].text)) === held[0].text ? 'yes' : 'NO',
    ]);

    if (haveSpm) {
      // As the brief asks (spm defaults: nmt_nfkc, whitespace collapsed, split by whitespace and script),
      // and with identity normalization and whitespace kept, which sees the same text we do.
      const variants: Array<[string, string[], string]> = [
        ['spm_train bpe (defaults)', [], 'no (nmt_nfkc, collapses whitespace)'],
        [
          'spm_train bpe (identity, keep spaces)',
          ['--normalization_rule_name=identity', '--remove_extra_whitespaces=false', '--add_dummy_prefix=false'],
          'no (U+2581 literal)',
        ],
      ];
      for (const [name, extra, lossless] of variants) {
        const prefix = join(dir, `spm${rows.length}`);
        t0 = performance.now();
        execFileSync(
          'spm_train',
          [
            `--input=${trainPath}`,
            `--model_prefix=${prefix}`,
            '--model_type=bpe',
            `--vocab_size=${vocabSize}`,
            '--byte_fallback',
            '--character_coverage=0.9995',
            '--minloglevel=2',
            ...extra,
          ],
          { stdio: 'ignore' },
        );
        const spmTrain = secs(t0);
        await stat(`${prefix}.model`);
        const spm = new SentencePieceProcessor();
        await spm.load(`${prefix}.model`);
        const spmEnc = (t: string): number[] => spm.encodeIds(t);
        rows.push([
          name,
          spmTrain.toFixed(1),
          tokensPerByte(spmEnc),
          tokensPerByte(spmEnc, 'html'),
          tokensPerByte(spmEnc, 'code'),
          encodeMBs(spmEnc),
          spmEncodeMBs(`${prefix}.model`),
          lossless,
        ]);
        process.stderr.write(`${name}: trained in ${spmTrain.toFixed(1)} s\n`);
      }
    } else {
      process.stderr.write(
        'spm_train/spm_encode not on PATH: reference rows skipped (apt-get install sentencepiece)\n',
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const header = [
    'trainer',
    'train s',
    'tokens/byte',
    'html t/B',
    'code t/B',
    'encode MB/s in Node (ours: TS encoder; spm rows: sentencepiece-js)',
    'spm_encode MB/s',
    'lossless',
  ];
  const body =
    `Vocabulary ${vocabSize}; ${docs.length} documents from \`${root}\`, every 10th held out for tokens/byte and encode speed.\n\n` +
    markdownTable(header, rows);
  console.log(body);
  if (!values['no-write']) {
    const cmd = `npm run bench:tokenizer${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
    await writeBenchmarkSection(
      fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)),
      'tokenizer',
      'Tokenizer training and encoding',
      cmd,
      body,
    );
  }
});
