// The unified vocabulary: one id space for text pieces, control tokens, CM3 sentinels and image codes
// (sentinel names follow CM3: `<mask:i>`, `<eom>`; maxMasks = 16). Unlike a plain spm model, which knows
// only its own pieces, the layout appends the VQ image-code block after the spm part (`.model` file,
// spm-model.ts). Also the structure tokens, text sanitizing and DIR/vocab.json.

import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic-file.js';
import { PieceType, type SpmPiece } from './spm-model.js';

/**
 * Where each kind of id lives:
 *
 *   id 0 <pad> | 1 <s> | 2 </s> (end of document) | 3 <unk>            CONTROL / UNKNOWN
 *   4 <image> | 5 </image> | 6.. <mask:0>..<mask:K-1> | <eom>            CONTROL (text never yields them)
 *   STRUCTURE_TOKENS (`<p>`, `</p>`, `<a `, ` href="`, `">`, ...)         USER_DEFINED (always one id)
 *   <0x00>..<0xFF>                                                       BYTE (byte fallback)
 *   BPE pieces (best merge first), then single characters                NORMAL
 *   ---- end of the spm model (spmSize) ----
 *   imageBase .. imageBase+imageCount-1                                  VQ image codes, not in spm
 */
export interface VocabLayout {
  /** Total ids: spmSize + imageCount. */
  size: number;
  pad: number;
  bos: number;
  /** End of document. */
  eos: number;
  unk: number;
  imageBegin: number;
  imageEnd: number;
  /** `<mask:i>` is maskBase + i. */
  maskBase: number;
  maskCount: number;
  eom: number;
  /** Image code c is imageBase + c. */
  imageBase: number;
  imageCount: number;
  /** Pieces in the spm model; ids below this are text/control ids. */
  spmSize: number;
  /** Smallest integer type that holds every id (shards use it). */
  dtype: 'uint16' | 'int32';
}

export const PAD_PIECE = '<pad>';
export const BOS_PIECE = '<s>';
export const EOS_PIECE = '</s>';
export const UNK_PIECE = '<unk>';
export const IMAGE_BEGIN_PIECE = '<image>';
export const IMAGE_END_PIECE = '</image>';
export const EOM_PIECE = '<eom>';
export const maskPiece = (i: number): string => `<mask:${i}>`;
export const bytePiece = (b: number): string => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** Control/unknown pieces in id order, for a model with `maxMasks` sentinels. */
export function controlPieces(maxMasks: number): SpmPiece[] {
  const control = (piece: string): SpmPiece => ({ piece, score: 0, type: PieceType.CONTROL });
  return [
    control(PAD_PIECE),
    control(BOS_PIECE),
    control(EOS_PIECE),
    { piece: UNK_PIECE, score: 0, type: PieceType.UNKNOWN },
    control(IMAGE_BEGIN_PIECE),
    control(IMAGE_END_PIECE),
    ...Array.from({ length: maxMasks }, (_, i) => control(maskPiece(i))),
    control(EOM_PIECE),
  ];
}

// Tags that usually carry attributes get an opener `<tag ` and a bare `<tag>`; void tags have no closer.
const TAGS_WITH_ATTRS = [
  'a',
  'img',
  'div',
  'span',
  'p',
  'link',
  'meta',
  'script',
  'table',
  'td',
  'th',
  'tr',
  'ul',
  'ol',
  'li',
  'section',
  'input',
  'form',
  'button',
  'iframe',
  'source',
  'code',
  'pre',
  'h1',
  'h2',
  'h3',
  'h4',
  'nav',
  'article',
  'header',
  'footer',
  'figure',
  'label',
  'select',
  'option',
  'html',
  'body',
];
const TAGS_PLAIN = [
  'head',
  'title',
  'main',
  'aside',
  'h5',
  'h6',
  'br',
  'hr',
  'em',
  'strong',
  'b',
  'i',
  'u',
  'blockquote',
  'figcaption',
  'thead',
  'tbody',
  'dl',
  'dt',
  'dd',
  'sup',
  'sub',
  'small',
  'tt',
  'kbd',
  'var',
  'cite',
  'abbr',
  'caption',
  'time',
];
const VOID_TAGS = new Set(['img', 'br', 'hr', 'link', 'meta', 'input', 'source']);
const ATTRS = [
  'href',
  'src',
  'alt',
  'class',
  'id',
  'title',
  'name',
  'type',
  'content',
  'rel',
  'lang',
  'width',
  'height',
  'style',
  'value',
  'target',
  'property',
  'charset',
  'role',
  'for',
  'colspan',
  'align',
];

/**
 * Structure tokens: USER_DEFINED pieces, so each always encodes as one id (spm matches them
 * longest-first before BPE). A plain list; its order is part of the model's id layout.
 */
export const STRUCTURE_TOKENS: readonly string[] = [
  ...TAGS_WITH_ATTRS.flatMap((t) => [`<${t}>`, `<${t} `, ...(VOID_TAGS.has(t) ? [] : [`</${t}>`])]),
  ...TAGS_PLAIN.flatMap((t) => [`<${t}>`, ...(VOID_TAGS.has(t) ? [] : [`</${t}>`])]),
  ...ATTRS.map((a) => ` ${a}="`),
  '">',
  '"/>',
  '" />',
  '/>',
  '<!DOCTYPE html>',
  '<!--',
  '-->',
];

const LONE_SURROGATE_SRC = '[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]';
const HAS_LONE_SURROGATE = new RegExp(LONE_SURROGATE_SRC);
const LONE_SURROGATES = new RegExp(LONE_SURROGATE_SRC, 'g');

/**
 * Text as it may enter the vocabulary: lone UTF-16 surrogates (not representable in UTF-8) become
 * U+FFFD, as TextEncoder would do; everything else is kept. Trainer and tokenizer both apply it.
 */
export function sanitizeText(text: string): string {
  return HAS_LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATES, '\uFFFD') : text;
}

/** Derive the layout from a model's pieces (found by name, so a reordered model is still read right). */
export function layoutFromPieces(pieces: readonly SpmPiece[], imageCodes: number, source = 'model'): VocabLayout {
  const ids = new Map<string, number>();
  pieces.forEach((p, i) => {
    if (p.type === PieceType.CONTROL || p.type === PieceType.UNKNOWN) ids.set(p.piece, i);
  });
  const need = (piece: string): number => {
    const id = ids.get(piece);
    if (id === undefined) throw new HyperlmError('TOKENIZER_BAD_MODEL', `${source}: control piece ${piece} is missing`);
    return id;
  };
  let maskCount = 0;
  while (ids.has(maskPiece(maskCount))) maskCount++;
  const maskBase = maskCount > 0 ? need(maskPiece(0)) : -1;
  for (let i = 0; i < maskCount; i++) {
    if (need(maskPiece(i)) !== maskBase + i) {
      throw new HyperlmError('TOKENIZER_BAD_MODEL', `${source}: mask pieces are not contiguous at ${maskPiece(i)}`);
    }
  }
  if (!Number.isInteger(imageCodes) || imageCodes < 0) {
    throw new HyperlmError('CONFIG_BAD_VALUE', `imageCodes must be a non-negative integer, got ${imageCodes}`);
  }
  const spmSize = pieces.length;
  const size = spmSize + imageCodes;
  return {
    size,
    pad: need(PAD_PIECE),
    bos: need(BOS_PIECE),
    eos: need(EOS_PIECE),
    unk: need(UNK_PIECE),
    imageBegin: need(IMAGE_BEGIN_PIECE),
    imageEnd: need(IMAGE_END_PIECE),
    maskBase,
    maskCount,
    eom: need(EOM_PIECE),
    imageBase: spmSize,
    imageCount: imageCodes,
    spmSize,
    dtype: size <= 65536 ? 'uint16' : 'int32',
  };
}

/** What writeVocabJson needs from a tokenizer (kept structural to avoid an import cycle). */
export interface VocabSource {
  readonly layout: VocabLayout;
  readonly pieces: readonly SpmPiece[];
  hash(): string;
}

/**
 * Write DIR/vocab.json: { layout, modelSha256, structureTokens, pieces: [[piece, type], ...] } where
 * pieces[i] is id i of the spm part (types: 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte).
 * Returns the written path.
 */
export async function writeVocabJson(dir: string, tokenizer: VocabSource): Promise<string> {
  const path = dir.endsWith('.json') ? dir : join(dir, 'vocab.json');
  await writeJsonAtomic(path, {
    layout: tokenizer.layout,
    modelSha256: tokenizer.hash(),
    structureTokens: tokenizer.pieces.filter((p) => p.type === PieceType.USER_DEFINED).map((p) => p.piece),
    pieces: tokenizer.pieces.map((p) => [p.piece, p.type]),
  });
  return path;
}
