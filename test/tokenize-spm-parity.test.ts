// Parity with the reference SentencePiece binaries (Debian `sentencepiece`): a model trained by our
// trainer gives the same ids under spm_encode as under our Tokenizer (sentencepiece-js), spm_decode
// reads our ids back to the same text, and our protobuf decoder reads a model written by spm_train.
// Skipped with a log line when the binaries are not on PATH.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBpe } from '../src/tokenize/bpe-trainer.js';
import { decodeModel, PieceType } from '../src/tokenize/spm-model.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';

const CORPUS = '/work/shared/corpus';

function hasBinary(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Up to `maxChars` of corpus files matching `ext`, in sorted path order. */
function corpusText(ext: RegExp, maxChars: number): string[] {
  const out: string[] = [];
  let n = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (n >= maxChars) return;
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (ext.test(name)) {
        const text = readFileSync(p, 'utf8');
        out.push(text);
        n += text.length;
      }
    }
  };
  if (existsSync(CORPUS)) walk(CORPUS);
  return out;
}

const EXTRA = [
  'def f(x):\n\tif x:\n\t\treturn x  # tabs\r\n    else:\r\n        return None\r\n',
  '中文分词测试，日本語のテキスト、한국어 텍스트 and 🎉 emoji 👩‍👩‍👧',
  '<div class="a">  <p>Runs   of   spaces</p>\t<a href="/x">x</a></div>',
  '▁ literal lower one-eighth block, \u0001\u0002 control, \uFFFD replacement',
];

const binaries = hasBinary('spm_encode') && hasBinary('spm_decode');

test('our model: Tokenizer ids equal spm_encode ids, spm_decode inverts them', async (t) => {
  if (!binaries) {
    t.log('spm_encode/spm_decode not on PATH (apt-get install sentencepiece): skipped');
    t.pass();
    return;
  }
  const html = corpusText(/\.html$/, 300_000);
  const code = corpusText(/\.(js|ts)$/, 300_000);
  if (html.length === 0) t.log(`${CORPUS} missing: parity on the built-in samples only`);
  const train = [...html.slice(0, Math.ceil(html.length / 2)), ...code.slice(0, Math.ceil(code.length / 2)), ...EXTRA];
  const held = [...html.slice(Math.ceil(html.length / 2)), ...code.slice(Math.ceil(code.length / 2)), ...EXTRA].join(
    '\n',
  );
  const dir = mkdtempSync(join(tmpdir(), 'hyperlm-parity-'));
  try {
    const modelPath = join(dir, 'm.model');
    writeFileSync(modelPath, trainBpe(train, { vocabSize: 1000 }));
    const tok = await Tokenizer.load(modelPath);
    t.is(tok.engine, 'js'); // the default encoder is the TypeScript one (bpe-encoder.ts)
    const inputPath = join(dir, 'held.txt');
    writeFileSync(inputPath, held);
    t.log(`held-out text: ${Buffer.byteLength(held)} bytes, ${held.split('\n').length} lines`);
    const spmIds = execFileSync('spm_encode', ['--model', modelPath, '--output_format=id', inputPath], {
      maxBuffer: 1 << 28,
    })
      .toString()
      .split('\n');
    const lines = held.split('\n');
    let mismatches = 0;
    for (let i = 0; i < lines.length; i++) {
      const ours = tok.encode(lines[i]).join(' ');
      if (i % 7 === 0 && tok.encodeReference(lines[i]).join(' ') !== spmIds[i] && mismatches++ < 3)
        t.log(`line ${i}: sentencepiece-js differs from spm_encode`);
      if (ours !== spmIds[i] && mismatches++ < 3)
        t.log(
          `line ${i}: ${JSON.stringify(lines[i]).slice(0, 120)}\n ours ${ours.slice(0, 120)}\n spm  ${spmIds[i]?.slice(0, 120)}`,
        );
    }
    t.is(mismatches, 0);
    // spm_decode on our ids (line by line) gives the text back.
    const idsPath = join(dir, 'ids.txt');
    writeFileSync(idsPath, lines.map((l) => tok.encode(l).join(' ')).join('\n') + '\n');
    const decoded = execFileSync('spm_decode', ['--model', modelPath, '--input_format=id', idsPath], {
      maxBuffer: 1 << 28,
    }).toString();
    t.is(decoded, held + '\n');
    // whole-text encode (newlines included) is the line encodings joined by the newline id.
    const nl = tok.encode('\n');
    t.is(nl.length, 1);
    t.deepEqual(
      tok.encode(held),
      lines.flatMap((l, i) => (i === 0 ? tok.encode(l) : [...nl, ...tok.encode(l)])),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decodeModel reads a model written by spm_train (field numbers agree)', (t) => {
  if (!hasBinary('spm_train')) {
    t.log('spm_train not on PATH: skipped');
    t.pass();
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'hyperlm-spmtrain-'));
  try {
    const input = join(dir, 'in.txt');
    writeFileSync(input, EXTRA.join('\n').repeat(50) + '\n' + 'the cat sat on the mat\n'.repeat(200));
    execFileSync(
      'spm_train',
      [
        `--input=${input}`,
        `--model_prefix=${join(dir, 'ref')}`,
        '--model_type=bpe',
        '--vocab_size=400',
        '--byte_fallback',
        '--pad_id=0',
        '--bos_id=1',
        '--eos_id=2',
        '--unk_id=3',
        '--max_sentencepiece_length=12',
        '--character_coverage=0.999',
        '--minloglevel=2',
      ],
      { stdio: 'ignore' },
    );
    const m = decodeModel(readFileSync(join(dir, 'ref.model')));
    t.is(m.pieces.length, 400);
    t.is(m.trainerSpec.modelType, 2);
    t.is(m.trainerSpec.vocabSize, 400);
    t.true(m.trainerSpec.byteFallback);
    t.is(m.trainerSpec.maxSentencepieceLength, 12);
    t.true(Math.abs(m.trainerSpec.characterCoverage - 0.999) < 1e-6);
    t.deepEqual([m.trainerSpec.padId, m.trainerSpec.bosId, m.trainerSpec.eosId, m.trainerSpec.unkId], [0, 1, 2, 3]);
    t.deepEqual([m.pieces[0].type, m.pieces[3].type], [PieceType.CONTROL, PieceType.UNKNOWN]);
    t.deepEqual([m.pieces[4].piece, m.pieces[4].type], ['<0x00>', PieceType.BYTE]);
    t.is(m.normalizerSpec.name, 'nmt_nfkc');
    t.true(m.normalizerSpec.addDummyPrefix);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
