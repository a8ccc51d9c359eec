// A SentencePiece-compatible BPE trainer in TypeScript: text in, `.model` bytes out (spm-model.ts).
// Same objective as spm's bpe_model_trainer.cc (merge the most frequent adjacent symbol pair until the
// vocabulary is full, score = -merge rank, byte fallback for characters outside `characterCoverage`),
// with the bookkeeping of a fast BPE (unique chunks with counts, incremental pair counts, a lazy max-heap).
// Unlike spm it pre-tokenizes into newline-free chunks of packed words (pieces may span spaces, as in
// InCoder) and does no Unicode-script splitting, so code pieces like `    return` or `foo(` exist.

import { HyperlmError } from '../errors.js';
import { PairCounts, PairHeap } from './bpe-tables.js';
import { encodeModel, PieceType, TRAINER_SPEC_DEFAULTS, type SpmPiece } from './spm-model.js';
import { bytePiece, controlPieces, sanitizeText, STRUCTURE_TOKENS } from './vocab.js';

export interface BpeTrainOptions {
  /** Pieces in the spm model (control + structure + 256 bytes + characters + merges); spm's vocab_size. */
  vocabSize: number;
  /** CM3 sentinels <mask:0>..<mask:K-1>; CM3 clamps the span count to 16. */
  maxMasks: number;
  /** Size of the image code block appended after the spm ids (VQGAN codebook); recorded, not trained. */
  imageCodes: number;
  /** Fraction of character occurrences covered by character pieces; the rest use byte fallback (spm: 0.9995). */
  characterCoverage: number;
  /** Longest piece in characters (spm's max_sentencepiece_length). */
  maxPieceLength: number;
  /** Called now and then with the phase and progress, for a CLI progress line. */
  onProgress?: (phase: 'count' | 'merge', done: number, total: number) => void;
}

export const BPE_TRAIN_DEFAULTS: BpeTrainOptions = {
  vocabSize: 16000,
  maxMasks: 16,
  imageCodes: 8192,
  characterCoverage: 0.9995,
  maxPieceLength: 16,
};

const MAX_WORD = 64; // longer runs without spaces (minified code) are cut for training statistics

function validate(o: BpeTrainOptions): void {
  const int = (k: keyof BpeTrainOptions, min: number, max: number): void => {
    const v = o[k] as number;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `options.${k} must be an integer in [${min}, ${max}], got ${v}`);
    }
  };
  int('vocabSize', 300, 1 << 24);
  int('maxMasks', 0, 1024);
  int('imageCodes', 0, 1 << 24);
  int('maxPieceLength', 2, MAX_WORD);
  if (!(o.characterCoverage > 0 && o.characterCoverage <= 1)) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `options.characterCoverage must be in (0, 1], got ${o.characterCoverage}`,
    );
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Count training chunks. Pre-tokenization (training only — spm's encoder merges anywhere, so this only
 * shapes the vocab):
 *  - text is cut at '\n' (never inside a piece, as in InCoder) and around STRUCTURE_TOKENS, which are
 *    user-defined pieces and always stand alone; newlines are counted separately: they are never merged;
 *  - each line is cut into words = [run of spaces/tabs][run of other characters], and consecutive
 *    words are packed greedily into chunks of at most `maxPieceLength` characters. Pieces are learned
 *    inside chunks, so they may span spaces (`    return`, ` of the`, `) {`) and whole indentation
 *    runs become pieces, while a piece never exceeds maxPieceLength and never crosses a newline.
 *    Packing to the piece limit keeps chunks short and repetitive, so the unique-chunk table stays
 *    a few times the word table instead of the whole corpus (what line-level BPE would cost); 16
 *    characters compressed held-out code better than one word per chunk or 32 (BENCHMARKS.md);
 *  - no Unicode-script splitting (unlike spm's default), so code pieces like `="` or `foo(` exist.
 */
function countChunks(texts: Iterable<string>, maxLen: number, onProgress: BpeTrainOptions['onProgress']) {
  const structure = new RegExp(
    [...STRUCTURE_TOKENS]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'g',
  );
  const chunks = new Map<string, number>();
  let newlines = 0;
  let chars = 0;
  const add = (s: string): void => {
    chunks.set(s, (chunks.get(s) ?? 0) + 1);
  };
  const isWs = (c: number): boolean => c === 32 || c === 9;
  const packLine = (part: string): void => {
    let chunkStart = 0;
    let i = 0;
    const n = part.length;
    while (i < n) {
      // one word: [spaces/tabs][non-space]
      const wordStart = i;
      while (i < n && isWs(part.charCodeAt(i))) i++;
      while (i < n && !isWs(part.charCodeAt(i))) i++;
      if (i - chunkStart > maxLen && wordStart > chunkStart) {
        add(part.slice(chunkStart, wordStart));
        chunkStart = wordStart;
      }
      while (i - chunkStart > MAX_WORD) {
        let cut = chunkStart + MAX_WORD;
        const c = part.charCodeAt(cut);
        if (c >= 0xdc00 && c <= 0xdfff) cut--; // do not split a surrogate pair
        add(part.slice(chunkStart, cut));
        chunkStart = cut;
      }
    }
    if (n > chunkStart) add(part.slice(chunkStart));
  };
  let docs = 0;
  for (const raw of texts) {
    const text = sanitizeText(raw);
    chars += text.length;
    for (const line of text.split('\n')) {
      newlines++;
      let last = 0;
      structure.lastIndex = 0;
      for (let m = structure.exec(line); m !== null; m = structure.exec(line)) {
        if (m.index > last) packLine(line.slice(last, m.index));
        last = m.index + m[0].length;
      }
      if (line.length > last) packLine(line.slice(last));
    }
    newlines--;
    if (++docs % 1000 === 0) onProgress?.('count', chars, 0);
  }
  return { chunks, newlines };
}

/** Characters that get pieces: most frequent first until `coverage` of all occurrences is reached. */
function chooseAlphabet(chunks: Map<string, number>, newlines: number, coverage: number): number[] {
  const freq = new Map<number, number>();
  for (const [chunk, count] of chunks) {
    for (const ch of chunk) {
      const cp = ch.codePointAt(0)!;
      freq.set(cp, (freq.get(cp) ?? 0) + count);
    }
  }
  freq.set(10, newlines);
  freq.delete(0); // NUL cannot be a piece (spm's Darts trie) — it goes to byte fallback
  freq.delete(0x2581); // spm's decoder turns U+2581 into a space: keep it byte-level so decode is lossless
  const sorted = [...freq].filter(([, c]) => c > 0).sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  const total = sorted.reduce((s, [, c]) => s + c, 0);
  const alphabet: number[] = [];
  let covered = 0;
  for (const [cp, c] of sorted) {
    if (alphabet.length > 0 && covered / total >= coverage) break;
    alphabet.push(cp);
    covered += c;
  }
  return alphabet;
}

/** Chunks as symbol runs stored back to back (split at characters outside the alphabet). */
interface Words {
  syms: Int32Array;
  start: number[];
  len: number[];
  count: number[];
}

function buildWords(chunks: Map<string, number>, charSym: Map<number, number>): Words {
  let syms = new Int32Array(1 << 20);
  const wordStart: number[] = [];
  const wordLen: number[] = [];
  const wordCount: number[] = [];
  let used = 0;
  for (const [chunk, count] of chunks) {
    if (used + chunk.length > syms.length) {
      const grown = new Int32Array(Math.max(syms.length * 2, used + chunk.length));
      grown.set(syms.subarray(0, used));
      syms = grown;
    }
    let start = used;
    for (const ch of chunk) {
      const s = charSym.get(ch.codePointAt(0)!);
      if (s === undefined) {
        if (used - start >= 2) {
          wordStart.push(start);
          wordLen.push(used - start);
          wordCount.push(count);
        } else used = start;
        start = used;
      } else syms[used++] = s;
    }
    if (used - start >= 2) {
      wordStart.push(start);
      wordLen.push(used - start);
      wordCount.push(count);
    } else used = start;
  }
  return { syms, start: wordStart, len: wordLen, count: wordCount };
}

/** The symbol table shared by the merge loop: strings, lengths in characters, string → id. */
interface Symbols {
  str: string[];
  len: number[];
  byString: Map<string, number>;
}

/**
 * The BPE merge loop: merge the most frequent pair until `mergeTarget` new pieces exist. Returns the
 * new pieces in merge order. Mutates `words` and `sym`.
 */
function learnMerges(
  words: Words,
  sym: Symbols,
  mergeTarget: number,
  banned: Set<string>,
  opts: BpeTrainOptions,
): string[] {
  const { syms, start: wordStart, len: wordLen, count: wordCount } = words;
  const symStr = sym.str;
  const symLen = sym.len;
  const strToSym = sym.byString;
  const pairs = new PairCounts();
  const maxLen = opts.maxPieceLength;
  const touched: number[] = [];
  let step = 0;
  const addPair = (x: number, y: number, delta: number, word: number): void => {
    if (symLen[x] + symLen[y] > maxLen) return;
    const p = pairs.index(x, y);
    pairs.count[p] += delta;
    if (delta > 0) {
      const list = pairs.where[p];
      if (list.length === 0 || list[list.length - 1] !== word) list.push(word);
      if (pairs.stamp[p] !== step) {
        pairs.stamp[p] = step;
        touched.push(p);
      }
    }
  };
  for (let w = 0; w < wordStart.length; w++) {
    const s = wordStart[w];
    for (let i = s + 1; i < s + wordLen[w]; i++) addPair(syms[i - 1], syms[i], wordCount[w], w);
  }
  const heap = new PairHeap(pairs);
  for (const p of touched) heap.push(pairs.count[p], p);
  touched.length = 0;
  step++;

  const seen = new Int32Array(wordStart.length).fill(-1);
  const merged: string[] = [];
  while (merged.length < mergeTarget) {
    if (heap.size === 0) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `options.vocabSize ${opts.vocabSize} is too large for this text: only ${merged.length} of ${mergeTarget} merges possible`,
      );
    }
    const pair = heap.topPair();
    const stored = heap.topCount();
    heap.pop();
    const actual = pairs.count[pair];
    if (actual !== stored) {
      if (actual > 0) heap.push(actual, pair);
      continue;
    }
    if (actual <= 0) continue;
    const a = pairs.left[pair];
    const b = pairs.right[pair];
    const str = symStr[a] + symStr[b];
    if (banned.has(str)) {
      pairs.count[pair] = 0;
      continue;
    }
    let z = strToSym.get(str);
    if (z === undefined) {
      z = symStr.length;
      symStr.push(str);
      symLen.push(symLen[a] + symLen[b]);
      strToSym.set(str, z);
      merged.push(str);
    }
    // Rewrite every word that holds (a, b); neighbours' pair counts change around each occurrence.
    const list = pairs.where[pair];
    pairs.where[pair] = [];
    for (const w of list) {
      if (seen[w] === step) continue;
      seen[w] = step;
      const start = wordStart[w];
      const end = start + wordLen[w];
      const cnt = wordCount[w];
      let j = start;
      for (let i = start; i < end;) {
        if (i + 1 < end && syms[i] === a && syms[i + 1] === b) {
          if (j > start) {
            addPair(syms[j - 1], a, -cnt, w);
            addPair(syms[j - 1], z, cnt, w);
          }
          if (i + 2 < end) {
            addPair(b, syms[i + 2], -cnt, w);
            addPair(z, syms[i + 2], cnt, w);
          }
          syms[j++] = z;
          i += 2;
        } else syms[j++] = syms[i++];
      }
      wordLen[w] = j - start;
    }
    pairs.count[pair] = 0;
    for (const p of touched) if (pairs.count[p] > 0) heap.push(pairs.count[p], p);
    touched.length = 0;
    step++;
    if (step % 500 === 0) opts.onProgress?.('merge', merged.length, mergeTarget);
  }
  opts.onProgress?.('merge', merged.length, mergeTarget);

  return merged;
}

/**
 * Train a BPE model with byte fallback on `texts` and return the `.model` bytes.
 * Deterministic: the same texts in the same order give the same bytes — characters are numbered by
 * frequency (ties: code point), merged pieces by creation, equal pair counts are broken by the smaller
 * (left id, right id). Decoding stays lossless because the normalizer is identity with
 * escape_whitespaces=false and no piece contains U+2581 (spm's decoder turns that into a space), so a
 * literal U+2581 goes to byte fallback.
 */
export function trainBpe(texts: Iterable<string>, options: Partial<BpeTrainOptions> = {}): Uint8Array {
  const opts: BpeTrainOptions = { ...BPE_TRAIN_DEFAULTS, ...options };
  validate(opts);
  const fixed: SpmPiece[] = [
    ...controlPieces(opts.maxMasks),
    ...STRUCTURE_TOKENS.map((piece) => ({ piece, score: 0, type: PieceType.USER_DEFINED })),
    ...Array.from({ length: 256 }, (_, b) => ({ piece: bytePiece(b), score: 0, type: PieceType.BYTE })),
  ];
  const banned = new Set(fixed.map((p) => p.piece));
  if (banned.size !== fixed.length)
    throw new HyperlmError('CONFIG_BAD_VALUE', 'STRUCTURE_TOKENS contains a duplicate or a control piece');

  const { chunks, newlines } = countChunks(texts, opts.maxPieceLength, opts.onProgress);
  const alphabet = chooseAlphabet(chunks, newlines, opts.characterCoverage);
  const mergeTarget = opts.vocabSize - fixed.length - alphabet.length;
  if (mergeTarget < 0) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `options.vocabSize ${opts.vocabSize} is smaller than the ${fixed.length} fixed pieces + ${alphabet.length} characters`,
    );
  }

  // Symbols: 0..A-1 are characters, then merged pieces in creation order.
  const symStr: string[] = alphabet.map((cp) => String.fromCodePoint(cp));
  const symLen: number[] = alphabet.map(() => 1);
  const strToSym = new Map<string, number>(symStr.map((s, i) => [s, i]));
  const charSym = new Map<number, number>(alphabet.map((cp, i) => [cp, i]));

  const words = buildWords(chunks, charSym);
  chunks.clear();
  const merged = learnMerges(words, { str: symStr, len: symLen, byString: strToSym }, mergeTarget, banned, opts).map(
    (piece, i): SpmPiece => ({ piece, score: -i, type: PieceType.NORMAL }),
  );

  const chars: SpmPiece[] = symStr
    .slice(0, alphabet.length)
    .map((piece, i) => ({ piece, score: -(merged.length + i), type: PieceType.NORMAL }));
  const pieces = [...fixed, ...merged, ...chars];
  return encodeModel({
    pieces,
    trainerSpec: {
      ...TRAINER_SPEC_DEFAULTS,
      modelType: 2,
      vocabSize: pieces.length,
      characterCoverage: opts.characterCoverage,
      maxSentencepieceLength: opts.maxPieceLength,
      splitByUnicodeScript: false,
      splitByWhitespace: false,
      byteFallback: true,
      padId: 0,
      bosId: 1,
      eosId: 2,
      unkId: 3,
    },
    normalizerSpec: {
      name: 'identity',
      addDummyPrefix: false,
      removeExtraWhitespaces: false,
      escapeWhitespaces: false,
    },
  });
}
