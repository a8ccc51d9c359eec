// Reading training rows back as the CM3 windows they were packed from (src/model/loader.ts windowed
// packing): each row's tokens, cut by the row's window lengths, each window un-masked with cm3Parse.
// A window whose spans were not all in its row fails to parse, so counting parsed holes over all rows
// is the "every <mask:i> has its span in the same row" check; the windows of a document, in row order,
// concatenate (minus the repeated header) back to the document.
import type { Row } from '../../src/model/loader.js';
import { cm3Parse, type Cm3Vocab } from '../../src/tokenize/cm3.js';

/** All tokens a row was made from: the inputs, plus the last target when the row was full. */
export function rowTokens(r: Row, pad: number): number[] {
  const out = [...r.input.subarray(0, r.real)];
  const T = r.input.length;
  if (r.real === T && r.target[T - 1] !== pad) out.push(r.target[T - 1]);
  return out;
}

export interface ParsedWindow {
  /** The window before masking, without its closing </s>. */
  tokens: Int32Array;
  /** It ends in the continuation sentinel (the document goes on in the next window). */
  continues: boolean;
  /** Holes <mask:i> in the visible text (continuation sentinel excluded); each parsed with its moved span. */
  holes: number;
  /** The masked form's length, closing token included. */
  length: number;
}

/** The windows of one row, parsed; throws (CM3_BAD_TOKENS) when a window's spans are not complete in the row. */
export function rowWindows(r: Row, vocab: Cm3Vocab, pad: number, eos: number): ParsedWindow[] {
  const tokens = rowTokens(r, pad);
  const units = r.units ?? [];
  const total = units.reduce((a, b) => a + b, 0);
  if (total !== tokens.length) throw new Error(`row of ${tokens.length} tokens but windows sum to ${total}`);
  const out: ParsedWindow[] = [];
  let o = 0;
  for (const len of units) {
    const unit = Int32Array.from(tokens.slice(o, o + len));
    o += len;
    const final = unit[unit.length - 1] === eos;
    const p = cm3Parse(final ? unit.subarray(0, unit.length - 1) : unit, vocab);
    if (p.continues === final)
      throw new Error(`window ending ${final ? 'in </s>' : 'without </s>'} has continues=${p.continues}`);
    out.push({ tokens: p.tokens, continues: p.continues, holes: p.spans.length, length: len });
  }
  return out;
}

/**
 * The documents of some rows (one row-domain's rows in order): consecutive windows joined until a
 * window that does not continue; `header(first)` says how many leading tokens each later window repeats.
 */
export function documentsFromRows(
  rows: Row[],
  vocab: Cm3Vocab,
  pad: number,
  eos: number,
  header: (first: Int32Array) => number = () => 0,
): number[][] {
  const docs: number[][] = [];
  let cur: number[] | undefined;
  let h = 0;
  for (const r of rows) {
    for (const w of rowWindows(r, vocab, pad, eos)) {
      if (!cur) {
        cur = [...w.tokens];
        h = header(w.tokens);
      } else {
        const head = w.tokens.subarray(0, h);
        if (head.some((x, i) => x !== cur![i]))
          throw new Error("a continuation window does not repeat its document's header");
        cur.push(...w.tokens.subarray(h));
      }
      if (!w.continues) {
        docs.push(cur);
        cur = undefined;
      }
    }
  }
  if (cur) docs.push(cur);
  return docs;
}
