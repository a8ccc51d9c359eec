// The Tokenizer: decode(encode(x)) === x byte for byte for HTML, code, whitespace, control characters,
// CJK and emoji; structure tokens are single ids; control tokens never come out of text; image blocks
// and sentinels in encodeDocument/decode; vocab.json; bad input errors.

import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainBpe } from '../src/tokenize/bpe-trainer.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import { STRUCTURE_TOKENS, writeVocabJson } from '../src/tokenize/vocab.js';
import { HyperlmError } from '../src/errors.js';

const HTML = `<!DOCTYPE html>
<html lang="en"><head><title>Café — 東京の天気</title></head>
<body><div class="main"><p>Hello, <a href="https://example.com/a?b=1&amp;c=2">world</a>!</p>
<img src="x.png" alt="A cat 🐱 on a mat"/>
<ul><li>one</li><li>two   spaces</li></ul></div></body></html>`;

const CODE = `export function add(a: number, b: number): number {
    // four-space indent
    if (a > b) {
\t\treturn a + b; // tabs
    }\r
    return   a   +   b;\r
}\r
`;

const TRAIN = [
  HTML,
  CODE,
  ...Array.from(
    { length: 60 },
    (_, i) => `${CODE}\n${HTML}\nline ${i}: the quick brown fox ${'  '.repeat(i % 5)}jumps\n`,
  ),
];

let tokP: Promise<Tokenizer> | undefined;
const tokenizer = (): Promise<Tokenizer> =>
  (tokP ??= Tokenizer.fromBytes(trainBpe(TRAIN, { vocabSize: 600, imageCodes: 1024 }), { imageCodes: 1024 }));

const cases: Array<[string, string]> = [
  ['canonical HTML', HTML],
  ['code with indentation, tabs and CRLF', CODE],
  ['runs of spaces', 'a' + ' '.repeat(37) + 'b  c   d    \n     \n'],
  ['control characters', Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('') + '\x7f\x85'],
  ['NUL', 'a\0b\0\0c'],
  ['CJK', '中文分词测试，日本語のテキスト、한국어 텍스트'],
  ['emoji incl. ZWJ sequences', '👩‍👩‍👧‍👦 🇫🇷 🎉 ok 👍🏽'],
  ['U+2581 and U+FFFD literally', '▁a ▁▁b \uFFFD'],
  ['text that looks like control pieces', '<mask:0> <eom> <s></s><pad><unk><image></image><0x41>'],
  ['lone newline and CR', '\n\r\n\r\r\n'],
  ['one character', 'x'],
];

for (const [name, text] of cases) {
  test(`round trip: ${name}`, async (t) => {
    const tok = await tokenizer();
    const ids = tok.encode(text);
    t.is(tok.decode(ids), text);
    t.deepEqual(Buffer.from(tok.decode(ids), 'utf8'), Buffer.from(text, 'utf8'));
  });
}

test('long text (encoded in newline-ended blocks) round-trips and equals the per-line encoding', async (t) => {
  const tok = await tokenizer();
  const text = Array.from({ length: 150 }, (_, i) => `${HTML}\n${CODE}${'x'.repeat(i * 7)}`).join('\n');
  t.true(text.length > 50_000);
  const ids = tok.encode(text);
  t.is(tok.decode(ids), text);
  const nl = tok.encode('\n');
  t.deepEqual(
    ids,
    text.split('\n').flatMap((l, i) => (i === 0 ? tok.encode(l) : [...nl, ...tok.encode(l)])),
  );
});

test('empty text encodes to nothing', async (t) => {
  const tok = await tokenizer();
  t.deepEqual(tok.encode(''), []);
  t.is(tok.decode([]), '');
});

test('lone surrogates become U+FFFD (documented sanitizing)', async (t) => {
  const tok = await tokenizer();
  t.is(tok.decode(tok.encode('a\uD800b\uDC00c')), 'a\uFFFDb\uFFFDc');
  t.is(tok.decode(tok.encode('ok 🎉')), 'ok 🎉');
});

test('structure tokens encode as one id each', async (t) => {
  const tok = await tokenizer();
  for (const s of STRUCTURE_TOKENS) {
    const ids = tok.encode(s);
    t.is(ids.length, 1, s);
    t.is(tok.idToPiece(ids[0]), s);
  }
  const ids = tok.encode('<p>x</p>');
  t.is(tok.idToPiece(ids[0]), '<p>');
  t.is(tok.idToPiece(ids[ids.length - 1]), '</p>');
});

test('control tokens are never produced from text', async (t) => {
  const tok = await tokenizer();
  const L = tok.layout;
  const ids = tok.encode(cases.find(([n]) => n.startsWith('text that looks'))![1] + HTML + CODE);
  const firstText = L.eom + 1;
  t.true(
    ids.every((id) => id >= firstText && id < L.spmSize),
    'only user-defined, byte and normal ids',
  );
  t.false(ids.includes(L.unk));
});

test('decode renders sentinels and image blocks; encodeDocument lays out image slots', async (t) => {
  const tok = await tokenizer();
  const L = tok.layout;
  t.is(L.spmSize, 600);
  t.is(L.imageBase, 600);
  t.is(L.size, 600 + 1024);
  t.is(L.dtype, 'uint16');
  const codes = new Uint16Array([0, 5, 1023]);
  const segs: Array<string | { image: number }> = ['<img src="', { image: 0 }, '" alt="x">', { image: 1 }, 'end'];
  const doc = tok.encodeDocument(segs, [codes, null]);
  const a = tok.encode('<img src="');
  const b = tok.encode('" alt="x">');
  const c = tok.encode('end');
  t.deepEqual([...doc], [...a, L.imageBegin, L.imageBase, L.imageBase + 5, L.imageBase + 1023, L.imageEnd, ...b, ...c]);
  t.is(tok.decode(doc), '<img src="[image:3 codes]" alt="x">end');
  const masked = [
    ...tok.encode('a '),
    L.maskBase,
    L.bos,
    ...tok.encode(' b'),
    L.eos,
    L.maskBase,
    ...tok.encode('x'),
    L.eom,
  ];
  t.is(tok.decode(masked), 'a <mask:0> b<mask:0>x<eom>');
  t.is(tok.idToPiece(L.imageBase + 7), '<img:7>');
  t.throws(() => tok.decode([L.size]), { instanceOf: HyperlmError, message: /id 1624/ });
  t.throws(() => tok.encodeDocument([{ image: 0 }], [new Uint16Array([1024])]), {
    instanceOf: HyperlmError,
    message: /1024/,
  });
});

test('load from file equals fromBytes; hash is sha256 of the file; vocab.json', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'hyperlm-tok-'));
  try {
    const tok = await tokenizer();
    const path = join(dir, 't.model');
    await writeFile(path, tok.modelData());
    const again = await Tokenizer.load(path, { imageCodes: 1024 });
    t.deepEqual(again.layout, tok.layout);
    t.deepEqual(again.encode(HTML), tok.encode(HTML));
    t.is(
      again.hash(),
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
    const out = await writeVocabJson(dir, again);
    const json = JSON.parse(await readFile(out, 'utf8'));
    t.deepEqual(json.layout, tok.layout);
    t.is(json.pieces.length, 600);
    t.deepEqual(json.structureTokens, [...STRUCTURE_TOKENS]);
    t.is(json.modelSha256, tok.hash());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file that is not a model is TOKENIZER_BAD_MODEL', async (t) => {
  await t.throwsAsync(Tokenizer.fromBytes(new TextEncoder().encode('<html>not a model</html>')), {
    instanceOf: HyperlmError,
  });
  const e = await t.throwsAsync(Tokenizer.fromBytes(new Uint8Array([0x0a, 0x05, 0x0a, 0x01])));
  t.is((e as HyperlmError).code, 'TOKENIZER_BAD_MODEL');
});
