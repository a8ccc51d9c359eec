// The BPE trainer: exact vocabulary size and id layout, determinism, piece shape rules (no newline
// inside a piece, pieces across spaces, length limit), and the merge sequence against a naive
// recount-everything BPE written here independently of the incremental one in src/.

import test from 'ava';
import { trainBpe } from '../src/tokenize/bpe-trainer.js';
import { decodeModel, PieceType } from '../src/tokenize/spm-model.js';
import { STRUCTURE_TOKENS } from '../src/tokenize/vocab.js';
import { HyperlmError } from '../src/errors.js';

/** Deterministic pseudo-code/prose text without structure tokens (xorshift PRNG). */
function syntheticText(lines: number, seed = 7): string {
  let s = seed;
  const rnd = (n: number): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const words = [
    'the',
    'of',
    'return',
    'value',
    'const',
    'function',
    'x',
    'y',
    '=',
    '+',
    '(',
    ')',
    '{',
    '}',
    ';',
    'data',
    'map',
    'index',
    'if',
    'else',
    'for',
    'let',
    'new',
    'this',
    'result',
    '0',
    '1',
    '42',
    'über',
    '数据',
    'é',
  ];
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const indent = ['', '  ', '    ', '\t', '\t\t', '        '][rnd(6)];
    const n = 1 + rnd(8);
    const ws: string[] = [];
    for (let j = 0; j < n; j++) ws.push(words[rnd(words.length)]);
    out.push(indent + ws.join(rnd(5) === 0 ? '  ' : ' ') + (rnd(4) === 0 ? '\r' : ''));
  }
  return out.join('\n');
}

/** Naive BPE: recount every pair each step. Mirrors the trainer's documented rules, not its code. */
function naiveMerges(texts: string[], merges: number, maxLen: number): string[] {
  const chunkCounts = new Map<string, number>();
  const charFreq = new Map<string, number>();
  for (const text of texts) {
    const lines = text.split('\n');
    charFreq.set('\n', (charFreq.get('\n') ?? 0) + lines.length - 1);
    for (const line of lines) {
      const words = line.match(/[ \t]*[^ \t]*/g)!.filter((w) => w.length > 0);
      let cur = '';
      const emit = (c: string): void => {
        chunkCounts.set(c, (chunkCounts.get(c) ?? 0) + 1);
      };
      for (const w of words) {
        if (cur.length > 0 && cur.length + w.length > maxLen) {
          emit(cur);
          cur = w;
        } else cur += w;
      }
      if (cur.length > 0) emit(cur);
    }
  }
  for (const [c, n] of chunkCounts) for (const ch of c) charFreq.set(ch, (charFreq.get(ch) ?? 0) + n);
  const alphabet = [...charFreq]
    .sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!)
    .map(([c]) => c);
  const id = new Map(alphabet.map((c, i) => [c, i]));
  const words = [...chunkCounts].map(([c, n]) => ({ syms: [...c], n }));
  const len = (s: string): number => [...s].length;
  const out: string[] = [];
  while (out.length < merges) {
    const counts = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.syms.length; i++) {
        if (len(w.syms[i]) + len(w.syms[i + 1]) > maxLen) continue;
        const k = JSON.stringify([w.syms[i], w.syms[i + 1]]);
        counts.set(k, (counts.get(k) ?? 0) + w.n);
      }
    }
    let best: [string, string] | null = null;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [x, y] = JSON.parse(k) as [string, string];
      const better =
        c > bestCount ||
        (c === bestCount &&
          best !== null &&
          (id.get(x)! < id.get(best[0])! || (id.get(x) === id.get(best[0]) && id.get(y)! < id.get(best[1])!)));
      if (better) {
        best = [x, y];
        bestCount = c;
      }
    }
    if (best === null) break;
    const z = best[0] + best[1];
    if (!id.has(z)) {
      id.set(z, id.size);
      out.push(z);
    }
    for (const w of words) {
      const next: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === best[0] && w.syms[i + 1] === best[1]) {
          next.push(z);
          i++;
        } else next.push(w.syms[i]);
      }
      w.syms = next;
    }
  }
  return out;
}

const fixedCount = (maxMasks: number): number => 4 + 2 + maxMasks + 1 + STRUCTURE_TOKENS.length + 256;

test('vocabulary size is exact and ids follow the documented layout', (t) => {
  const model = decodeModel(trainBpe([syntheticText(3000)], { vocabSize: 700, imageCodes: 64 }));
  t.is(model.pieces.length, 700);
  t.is(model.trainerSpec.vocabSize, 700);
  t.is(model.trainerSpec.modelType, 2);
  t.true(model.trainerSpec.byteFallback);
  t.deepEqual(model.normalizerSpec, {
    name: 'identity',
    addDummyPrefix: false,
    removeExtraWhitespaces: false,
    escapeWhitespaces: false,
  });
  const p = model.pieces;
  t.deepEqual(
    p.slice(0, 4).map((x) => [x.piece, x.type]),
    [
      ['<pad>', PieceType.CONTROL],
      ['<s>', PieceType.CONTROL],
      ['</s>', PieceType.CONTROL],
      ['<unk>', PieceType.UNKNOWN],
    ],
  );
  t.deepEqual(
    p.slice(4, 23).map((x) => x.piece),
    ['<image>', '</image>', ...Array.from({ length: 16 }, (_, i) => `<mask:${i}>`), '<eom>'],
  );
  t.true(p.slice(4, 23).every((x) => x.type === PieceType.CONTROL));
  const ud = p.slice(23, 23 + STRUCTURE_TOKENS.length);
  t.deepEqual(
    ud.map((x) => x.piece),
    [...STRUCTURE_TOKENS],
  );
  t.true(ud.every((x) => x.type === PieceType.USER_DEFINED));
  const bytes = p.slice(23 + STRUCTURE_TOKENS.length, fixedCount(16));
  t.is(bytes[0].piece, '<0x00>');
  t.is(bytes[255].piece, '<0xFF>');
  t.true(bytes.every((x) => x.type === PieceType.BYTE));
  const normal = p.slice(fixedCount(16));
  t.true(normal.every((x) => x.type === PieceType.NORMAL));
  for (let i = 1; i < normal.length; i++)
    t.true(normal[i].score < normal[i - 1].score, `score order at ${normal[i].piece}`);
  t.is(new Set(p.map((x) => x.piece)).size, p.length, 'pieces are unique');
});

test('maxMasks changes the sentinel block and nothing else about the layout', (t) => {
  const model = decodeModel(trainBpe([syntheticText(1000)], { vocabSize: 500, maxMasks: 3 }));
  t.deepEqual(
    model.pieces.slice(4, 10).map((x) => x.piece),
    ['<image>', '</image>', '<mask:0>', '<mask:1>', '<mask:2>', '<eom>'],
  );
  t.is(model.pieces.length, 500);
});

test('training is deterministic', (t) => {
  const text = [syntheticText(2000, 3), syntheticText(500, 9)];
  const a = trainBpe(text, { vocabSize: 800 });
  const b = trainBpe(text, { vocabSize: 800 });
  t.deepEqual(Buffer.from(a), Buffer.from(b));
});

test('pieces: no newline inside, no U+2581, within maxPieceLength, some span spaces, indentation runs exist', (t) => {
  const text = syntheticText(4000) + '\n▁▁▁ ▁▁▁ ▁▁▁\n';
  const model = decodeModel(trainBpe([text], { vocabSize: 900, maxPieceLength: 12 }));
  const normal = model.pieces.filter((p) => p.type === PieceType.NORMAL).map((p) => p.piece);
  for (const p of normal) {
    t.true(p === '\n' || !p.includes('\n'), `newline inside ${JSON.stringify(p)}`);
    t.false(p.includes('\u2581'), `U+2581 in ${JSON.stringify(p)}`);
    t.true([...p].length <= 12, `too long: ${JSON.stringify(p)}`);
  }
  t.true(
    normal.some((p) => /\S[ \t]+\S/.test(p)),
    'a piece spans a space between two words',
  );
  t.true(normal.includes('    ') || normal.includes('        '), 'an indentation run is a piece');
  t.true(normal.includes('\t\t'), 'a tab run is a piece');
});

test('merge sequence equals a naive recount-everything BPE', (t) => {
  const texts = [syntheticText(400, 11), syntheticText(300, 5)];
  const model = decodeModel(trainBpe(texts, { vocabSize: fixedCount(16) + 200, characterCoverage: 1 }));
  const normal = model.pieces.filter((p) => p.type === PieceType.NORMAL);
  const chars = normal.filter((p) => [...p.piece].length === 1).length;
  const merges = normal.slice(0, normal.length - chars).map((p) => p.piece);
  t.true(merges.length > 100);
  t.deepEqual(merges, naiveMerges(texts, merges.length, 16));
});

test('rare characters are left to byte fallback (characterCoverage)', (t) => {
  const text = syntheticText(2000) + '\nζ';
  const full = decodeModel(trainBpe([text], { vocabSize: 600, characterCoverage: 1 }));
  const cut = decodeModel(trainBpe([text], { vocabSize: 600, characterCoverage: 0.999 }));
  t.true(full.pieces.some((p) => p.piece === 'ζ'));
  t.false(cut.pieces.some((p) => p.piece === 'ζ'));
});

test('bad options are errors that name the option', (t) => {
  const e1 = t.throws(() => trainBpe(['abc'], { vocabSize: 10.5 }), { instanceOf: HyperlmError });
  t.regex(e1.message, /options\.vocabSize/);
  const e2 = t.throws(() => trainBpe(['abc'], { characterCoverage: 0 }), { instanceOf: HyperlmError });
  t.regex(e2.message, /options\.characterCoverage/);
  const e3 = t.throws(() => trainBpe(['tiny text'], { vocabSize: 5000 }), { instanceOf: HyperlmError });
  t.regex(e3.message, /vocabSize 5000 is too large/);
});
