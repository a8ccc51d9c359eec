// CM3 windows (src/tokenize/cm3-window.ts) as pure functions: a cut window has the infill prompt's form
// `prefix <mask:0> suffix <mask:1> <mask:0> span <eom>` (built here by hand from the parsed span), every
// window fits its row, un-masks exactly, and the windows join back into the document; cuts never fall
// inside an image block; the code header is repeated and never masked; too small a row is a named error.
import test from 'ava';
import { HyperlmError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import { applySpans, cm3Parse, CM3_DEFAULTS, type Cm3Vocab } from '../src/tokenize/cm3.js';
import { cm3Window, cm3Windows, codeHeaderTokens, joinWindows } from '../src/tokenize/cm3-window.js';

const VOCAB: Cm3Vocab = { maskBase: 1000, maskCount: 16, eom: 1016, imageBegin: 900, imageEnd: 901 };
const EOS = 2;
const M = (i: number): number => VOCAB.maskBase + i;

test('a continuation window is the infill prompt: prefix <mask:0> suffix <mask:1> <mask:0> span <eom>', (t) => {
  const doc = Int32Array.from({ length: 12 }, (_, i) => 100 + i);
  for (let s = 0; s < 50; s++) {
    const out = applySpans(doc, VOCAB, 1, Rng.fromSeed(s), true);
    const {
      spans: [[a, b]],
      continues,
      tokens,
    } = cm3Parse(out, VOCAB);
    t.true(continues);
    t.deepEqual(tokens, doc);
    const d = [...doc];
    t.deepEqual([...out], [...d.slice(0, a), M(0), ...d.slice(b), M(1), M(0), ...d.slice(a, b), VOCAB.eom]);
  }
  // left to right and cut: the text, then the continuation sentinel <mask:0>
  t.deepEqual([...applySpans(doc, VOCAB, 0, Rng.fromSeed(1), true)], [...doc, M(0)]);
  t.deepEqual(cm3Parse(Int32Array.from([...doc, M(0)]), VOCAB), { tokens: doc, spans: [], continues: true });
});

/** A random document with image blocks and an optional header of `h` tokens; blocks as [begin, end] positions. */
function randomDoc(g: Rng, h: number): { body: Int32Array; blocks: Array<[number, number]> } {
  const doc: number[] = Array.from({ length: h }, () => 300 + g.int(50));
  const blocks: Array<[number, number]> = [];
  const len = 1 + g.int(300);
  while (doc.length < len) {
    if (g.uniform() < 0.05) {
      const b = doc.length;
      doc.push(900, ...Array.from({ length: 1 + g.int(12) }, () => 500 + g.int(100)), 901);
      blocks.push([b, doc.length - 1]);
    } else doc.push(10 + g.int(80));
  }
  return { body: Int32Array.from(doc), blocks };
}

test('windows fit the row, un-mask exactly, join back into the document, and never cut an image block', (t) => {
  let cut = 0;
  for (let s = 0; s < 800; s++) {
    const g = Rng.fromParts('win', s);
    const header = g.uniform() < 0.5 ? 1 + g.int(4) : 0;
    const { body, blocks } = randomDoc(g, header);
    const row = 24 + g.int(60);
    const opts = { ...CM3_DEFAULTS, lambda: 1 + g.int(3), ltrFraction: 0.2 };
    const windows = cm3Windows(
      { body, header },
      row,
      VOCAB,
      opts,
      EOS,
      (w) => Rng.fromParts('spans', s, w),
      `doc ${s}`,
    );
    const originals: Int32Array[] = [];
    windows.forEach((w, i) => {
      if (w.tokens.length > row) t.fail(`doc ${s} window ${i}: ${w.tokens.length} tokens > row ${row}`);
      const last = i === windows.length - 1;
      if (w.continues === last) t.fail(`doc ${s} window ${i}: continues=${w.continues}`);
      if ((w.tokens[w.tokens.length - 1] === EOS) !== last)
        t.fail(`doc ${s} window ${i}: </s> only on the last window`);
      const p = cm3Parse(last ? w.tokens.subarray(0, -1) : w.tokens, VOCAB);
      if (p.continues !== !last) t.fail(`doc ${s} window ${i}: parse says continues=${p.continues}`);
      if (w.tokens.subarray(0, header).some((x, j) => x !== body[j]))
        t.fail(`doc ${s} window ${i}: header not repeated verbatim`);
      for (const [a] of p.spans) if (a < header) t.fail(`doc ${s} window ${i}: span starts in the header`);
      originals.push(p.tokens);
      for (const [b, e] of blocks)
        if (!last && b < w.end && w.end <= e) t.fail(`doc ${s}: cut at ${w.end} inside image block [${b}, ${e}]`);
      if (!last) cut++;
    });
    if (joinWindows(originals, header).join() !== body.join()) t.fail(`doc ${s}: windows do not join back`);
  }
  t.true(cut > 500, `${cut} cuts checked`);
});

test('a partial row too small for minTokens of text gives null; an image block longer than the row is a named error', (t) => {
  const body = Int32Array.from({ length: 100 }, (_, i) => 10 + (i % 50));
  const rng = (): Rng => Rng.fromSeed(3);
  t.is(cm3Window({ body, header: 0 }, 0, { space: 10, minTokens: 32 }, VOCAB, CM3_DEFAULTS, EOS, rng()), null);
  const w = cm3Window(
    { body, header: 0 },
    0,
    { space: 40, minTokens: 32 },
    VOCAB,
    { ...CM3_DEFAULTS, maxMasks: 1 },
    EOS,
    rng(),
  );
  t.truthy(w);
  t.is(w!.tokens.length, 40, 'a cut window fills the space exactly');
  t.is(w!.end, 40 - 3 - 1);
  const image = Int32Array.from([900, ...Array.from({ length: 30 }, () => 500), 901, 7, 8]);
  const err = t.throws(
    () => cm3Windows({ body: image, header: 0 }, 20, VOCAB, CM3_DEFAULTS, EOS, () => rng(), 'page.html'),
    { instanceOf: HyperlmError },
  );
  t.is((err as HyperlmError).code, 'CM3_WINDOW_TOO_SMALL');
  t.regex(err!.message, /page\.html.*20 tokens/);
});

test('codeHeaderTokens finds the header line through spm pieces, byte pieces and the dummy prefix', (t) => {
  const pieces = ['▁<|', '▁file', '▁lang=ts', '▁path=a.ts', '▁|>', '<0x0A>', 'const', '▁x', '<p>'];
  t.is(
    codeHeaderTokens(Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7), (i) => pieces[i], 400),
    6,
  );
  t.is(
    codeHeaderTokens(Int32Array.of(8, 6, 7), (i) => pieces[i], 400),
    0,
    'not a code header',
  );
  t.is(
    codeHeaderTokens(Int32Array.of(0, 1, 2, 3, 4, 5, 6), (i) => pieces[i], 16),
    0,
    'a header over a quarter of the row is not repeated',
  );
});
