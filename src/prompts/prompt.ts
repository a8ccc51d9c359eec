// A structured prompt as a list of parts — text, CM3 sentinels, image delimiters, image codes — because the
// sentinel and image ids are control tokens that text never encodes to (vocab.ts): `renderPrompt` gives the
// exact string a builder promises (`<mask:0>`, `<image>`, codes as `<img:C>`, `</image>`; tests compare it),
// `encodePrompt` gives the ids, fitting a length budget by cutting the one part marked truncatable (its end
// for a page body, its start for context before a cursor or image). Text parts are encoded one by one, as
// the pipeline encodes a document's text segments between image blocks. Pure; each task module builds parts.

import { HyperlmError } from '../errors.js';
import type { Tokenizer } from '../tokenize/index.js';

export type PromptPart =
  /** Text; `truncate` marks the part that may be cut to fit: keep its beginning ('end') or its end ('start'). */
  | { text: string; truncate?: 'end' | 'start' }
  /** CM3 sentinel `<mask:i>`. */
  | { mask: number }
  /** `<image>` or `</image>`. */
  | { image: 'begin' | 'end' }
  /** VQGAN codes (0-based, in the image block). */
  | { codes: ArrayLike<number> }
  /** `<eom>`, closing an infilled span. */
  | { eom: true };

export interface EncodedPrompt {
  ids: number[];
  /** renderPrompt of the parts as encoded (after truncation). */
  text: string;
  /** Tokens cut from the truncatable part to fit (0 when it fit). */
  truncatedTokens: number;
}

/** The prompt as a string: text verbatim, `<mask:i>`, `<image>`, `<img:C>` per code, `</image>`, `<eom>`. */
export function renderPrompt(parts: readonly PromptPart[]): string {
  return parts
    .map((p) => {
      if ('text' in p) return p.text;
      if ('mask' in p) return `<mask:${p.mask}>`;
      if ('image' in p) return p.image === 'begin' ? '<image>' : '</image>';
      if ('codes' in p) return Array.from(p.codes, (c) => `<img:${c}>`).join('');
      return '<eom>';
    })
    .join('');
}

/** Checks image codes against the vocabulary's image block (and, when given, the image tokenizer's codebook). */
export function checkCodes(codes: ArrayLike<number>, imageCount: number, what: string): void {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (!Number.isInteger(c) || c < 0 || c >= imageCount) {
      throw new HyperlmError(
        'PROMPT_BAD_INPUT',
        `${what}: image code ${c} at index ${i} is outside the image block [0, ${imageCount})`,
      );
    }
  }
}

/**
 * Parts → ids within `maxTokens` (the context left after the tokens to generate). When too long, the
 * truncatable part loses tokens from the side its `truncate` names; without one, or when even an empty
 * truncatable part does not fit, PROMPT_TOO_LONG names the lengths.
 */
export function encodePrompt(
  tokenizer: Tokenizer,
  parts: readonly PromptPart[],
  maxTokens: number,
  what: string,
): EncodedPrompt {
  const L = tokenizer.layout;
  const encoded = parts.map((p): number[] => {
    if ('text' in p) return tokenizer.encode(p.text);
    if ('mask' in p) {
      if (!Number.isInteger(p.mask) || p.mask < 0 || p.mask >= L.maskCount) {
        throw new HyperlmError(
          'PROMPT_BAD_INPUT',
          `${what}: <mask:${p.mask}> is not one of the vocabulary's ${L.maskCount} sentinels`,
        );
      }
      return [L.maskBase + p.mask];
    }
    if ('image' in p) return [p.image === 'begin' ? L.imageBegin : L.imageEnd];
    if ('codes' in p) {
      checkCodes(p.codes, L.imageCount, what);
      return Array.from(p.codes, (c) => L.imageBase + c);
    }
    return [L.eom];
  });
  const total = encoded.reduce((n, ids) => n + ids.length, 0);
  const cut = parts.findIndex((p) => 'text' in p && p.truncate !== undefined);
  const excess = total - maxTokens;
  if (excess <= 0) return { ids: encoded.flat(), text: renderPrompt(parts), truncatedTokens: 0 };
  if (cut < 0 || encoded[cut].length < excess) {
    const fixed = total - (cut < 0 ? 0 : encoded[cut].length);
    throw new HyperlmError(
      'PROMPT_TOO_LONG',
      `${what}: the prompt needs ${fixed} tokens without its truncatable text but only ${maxTokens} fit in the context`,
    );
  }
  const part = parts[cut] as { text: string; truncate: 'end' | 'start' };
  const ids = encoded[cut];
  const kept = part.truncate === 'end' ? ids.slice(0, ids.length - excess) : ids.slice(excess);
  encoded[cut] = kept;
  const newParts = parts.slice();
  newParts[cut] = { text: tokenizer.decode(kept), truncate: part.truncate };
  return { ids: encoded.flat(), text: renderPrompt(newParts), truncatedTokens: excess };
}
