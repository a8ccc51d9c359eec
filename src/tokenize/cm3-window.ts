// CM3 inside the training context: a document is cut into windows that each fit what is left of a
// training row *after* masking, and each window is masked on its own (cm3.ts `applySpans`), so every
// moved span `<mask:i> … <eom>` sits in the same row as the hole it fills (CM3 §2.2 and InCoder §2.1 mask
// within the 2,048-token context). Unlike cm3.ts, which masks a whole document, the span count is drawn
// first and the window is as long as the space then allows. Pure functions, no I/O.

import { HyperlmError } from '../errors.js';
import type { Rng } from '../rng.js';
import { applySpans, drawSpanCount, type Cm3Options, type Cm3Vocab } from './cm3.js';

export interface WindowDoc {
  /** The document's tokens without its end-of-document token. */
  body: Int32Array;
  /** Leading tokens repeated at the start of every window (the code header); 0 = none. */
  header: number;
}

export interface Cm3Window {
  /** The window covers body[start, end) (plus the repeated header when start > 0). */
  start: number;
  end: number;
  /** The masked window as trained on, with its closing `</s>` or continuation sentinel. */
  tokens: Int32Array;
  /** Whether the document goes on after this window. */
  continues: boolean;
}

export interface WindowLimits {
  /** Most tokens the masked window may take (what is left of the row). */
  space: number;
  /** A cut window shorter than this (text tokens, header excluded) is not made: the caller pads instead. */
  minTokens: number;
}

/** Where a cut at `end` must move back to so it is not strictly inside an image block (end itself if it is not). */
function imageSafeEnd(body: Int32Array, from: number, end: number, vocab: Cm3Vocab): number {
  if (vocab.imageBegin === undefined || vocab.imageEnd === undefined) return end;
  for (let j = end - 1; j >= from; j--) {
    if (body[j] === vocab.imageEnd) return end;
    if (body[j] === vocab.imageBegin) return j;
  }
  return end;
}

/**
 * The window of `doc` starting at body position `start` (0, or where the previous window ended), masked
 * with spans drawn from `rng`; null when the space left cannot hold a window of `limits.minTokens` text
 * tokens (the caller pads the row and asks again with a fresh one). A window holds visible + 3 per span +
 * 1 closing token (`</s>` on the last window, else the continuation sentinel `<mask:k>` that the infill
 * prompt uses for a truncated suffix):
 *
 *   last window          [header] text… <mask:0> text…        <mask:0> span <eom> </s>
 *   continuation window  [header] text… <mask:0> text… <mask:1> <mask:0> span <eom>
 *
 * A code document's header line (`<| file lang=… path=… |>\n`) is repeated at the start of every
 * continuation window and is never masked (InCoder keeps file metadata with every training context).
 * A cut never falls strictly inside an `<image> … </image>` block.
 */
export function cm3Window(
  doc: WindowDoc,
  start: number,
  limits: WindowLimits,
  vocab: Cm3Vocab,
  opts: Cm3Options,
  eos: number,
  rng: Rng,
): Cm3Window | null {
  const { body, header } = doc;
  const textStart = Math.max(start, header);
  const { ltr, n } = drawSpanCount(opts, rng);
  // a text of L tokens has L + 1 boundaries, so at most ⌊(L + 1) / 2⌋ spans (cm3.ts reduces n the same way)
  const spanCost = (k: number, len: number): number => 3 * Math.min(k, Math.floor((len + 1) / 2));
  // the whole rest, closed by </s>
  const rest = body.length - textStart;
  if (header + rest + spanCost(n, rest) + 1 <= limits.space) {
    return {
      start,
      end: body.length,
      tokens: masked(doc, textStart, body.length, n, false, vocab, eos, rng),
      continues: false,
    };
  }
  // a cut: the continuation sentinel closes it, and it needs one sentinel id more than its spans
  // (and spans only as many as leave room for minTokens of text: this binds only in rows of a few dozen tokens)
  const minText = Math.max(1, limits.minTokens);
  const most = ltr ? 0 : Math.min(n, vocab.maskCount - 1, Math.floor((limits.space - header - 1 - minText) / 3));
  // an image block right at the cut can leave too little text: then fewer spans make room for it
  for (let k = most; k >= 0; k--) {
    let end = textStart + (limits.space - header - 3 * k - 1);
    if (end >= body.length) end = body.length - 1; // the rest did not fit with its </s>, so leave at least one token
    end = imageSafeEnd(body, textStart, end, vocab);
    if (end - textStart >= minText)
      return { start, end, tokens: masked(doc, textStart, end, k, true, vocab, eos, rng), continues: true };
  }
  // no cut fits (the rest ends inside an image block): the whole rest with as many spans as still fit
  const fewer = Math.floor((limits.space - header - rest - 1) / 3);
  if (fewer >= 0)
    return {
      start,
      end: body.length,
      tokens: masked(doc, textStart, body.length, ltr ? 0 : fewer, false, vocab, eos, rng),
      continues: false,
    };
  return null;
}

function masked(
  doc: WindowDoc,
  textStart: number,
  end: number,
  n: number,
  continues: boolean,
  vocab: Cm3Vocab,
  eos: number,
  rng: Rng,
): Int32Array {
  const head = doc.body.subarray(0, doc.header);
  const text = applySpans(doc.body.subarray(textStart, end), vocab, n, rng, continues);
  const out = new Int32Array(head.length + text.length + (continues ? 0 : 1));
  out.set(head);
  out.set(text, head.length);
  if (!continues) out[out.length - 1] = eos;
  return out;
}

/** Visible text of a spm piece for header detection: `▁` is a space, `<0xNN>` its byte. */
function pieceText(piece: string): string {
  const byte = /^<0x([0-9A-F]{2})>$/.exec(piece);
  return byte ? String.fromCharCode(parseInt(byte[1], 16)) : piece.replaceAll('\u2581', ' ');
}

/**
 * Tokens of the code header `<| file … |>\n` at the start of `body` (the smallest prefix whose text
 * holds the header's end), or 0 when the document has no header or it would take more than a quarter
 * of the row (a header that long would crowd out the code it describes).
 */
export function codeHeaderTokens(body: Int32Array, pieceOf: (id: number) => string, rowTokens: number): number {
  const limit = Math.min(body.length, Math.floor(rowTokens / 4));
  let text = '';
  for (let i = 0; i < limit; i++) {
    text += pieceText(pieceOf(body[i]));
    const lead = text.trimStart(); // spm's dummy-prefix space
    if (lead.length > 0 && !'<| file'.startsWith(lead.slice(0, 7))) return 0;
    if (lead.includes('|>\n')) return i + 1;
  }
  return 0;
}

/**
 * All windows of a document, each planned as if it started a row of `rowTokens` (static preprocessing:
 * the row a window will land in is not known yet, so every cut window is a full row).
 */
export function cm3Windows(
  doc: WindowDoc,
  rowTokens: number,
  vocab: Cm3Vocab,
  opts: Cm3Options,
  eos: number,
  rngOf: (window: number) => Rng,
  where: string,
): Cm3Window[] {
  const out: Cm3Window[] = [];
  for (let start = 0; out.length === 0 || start < doc.body.length;) {
    const w = cm3Window(doc, start, { space: rowTokens, minTokens: 1 }, vocab, opts, eos, rngOf(out.length));
    if (!w) throw windowTooSmall(doc, start, rowTokens, where);
    out.push(w);
    start = w.end;
  }
  return out;
}

/** Undo the windows of one document: each window's cm3Parse, the repeated header dropped from all but the first. */
export function joinWindows(originals: Int32Array[], header: number): Int32Array {
  const parts = originals.map((w, i) => (i === 0 ? w : w.subarray(header)));
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The named error for a row that cannot hold the next window at all (an image block longer than the row). */
export function windowTooSmall(doc: WindowDoc, start: number, rowTokens: number, where: string): HyperlmError {
  return new HyperlmError(
    'CM3_WINDOW_TOO_SMALL',
    `${where}: a row of ${rowTokens} tokens (blockSize + 1) cannot hold the window at token ${start} ` +
      `of ${doc.body.length} (header ${doc.header} tokens; an <image> block there is longer than the row?); raise blockSize`,
  );
}
