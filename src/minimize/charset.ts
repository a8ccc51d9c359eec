// Bytes → text for HTML pages: a simplified WHATWG "determine the character encoding"
// (BOM, then a `<meta charset>` / `http-equiv` / `<?xml encoding>` prescan of the first 1024
// bytes, else UTF-8) with TextDecoder doing the decoding, plus binary and empty detection.
// A declared charset that the bytes contradict falls back (see `decodeHtmlBytes`).

import { TextDecoder } from 'node:util';
import { HyperlmError } from '../errors.js';

const PRESCAN_BYTES = 1024;
/** Above this share of C0 control bytes (other than tab/LF/FF/CR/ESC) the file is not text. */
const MAX_CONTROL_RATIO = 0.1;

const META_CHARSET = /<meta\b[^>]*?charset\s*=\s*["']?\s*([^\s"';>/]+)/i;
const XML_ENCODING = /^\s*<\?xml\b[^>]*?encoding\s*=\s*["']([^"']+)["']/i;
const BINARY_MAGIC: Array<[string, number[]]> = [
  ['PNG', [0x89, 0x50, 0x4e, 0x47]],
  ['JPEG', [0xff, 0xd8, 0xff]],
  ['GIF', [0x47, 0x49, 0x46, 0x38]],
  ['PDF', [0x25, 0x50, 0x44, 0x46]],
  ['gzip', [0x1f, 0x8b]],
  ['zip', [0x50, 0x4b, 0x03, 0x04]],
  ['RIFF', [0x52, 0x49, 0x46, 0x46]],
  ['ELF', [0x7f, 0x45, 0x4c, 0x46]],
];

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** Throws DOC_BINARY for NUL bytes, known binary magic numbers or too many control bytes in the first KB. */
function rejectBinary(bytes: Uint8Array, source: string): void {
  for (const [name, magic] of BINARY_MAGIC) {
    if (startsWith(bytes, magic))
      throw new HyperlmError('DOC_BINARY', `${source}: binary file (${name} signature), not text`);
  }
  const head = bytes.subarray(0, PRESCAN_BYTES);
  let control = 0;
  for (let i = 0; i < head.length; i++) {
    const b = head[i];
    if (b === 0) throw new HyperlmError('DOC_BINARY', `${source}: binary file (NUL byte at offset ${i}), not text`);
    if (b < 0x20 && b !== 9 && b !== 10 && b !== 12 && b !== 13 && b !== 27) control++;
  }
  if (head.length > 0 && control / head.length > MAX_CONTROL_RATIO) {
    throw new HyperlmError(
      'DOC_BINARY',
      `${source}: binary file (${control} control bytes in the first ${head.length}), not text`,
    );
  }
}

function decoderFor(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(label.trim().toLowerCase());
  } catch {
    return undefined;
  }
}

/** The charset a page declares in its first KB, as a TextDecoder (undefined: none or unknown label). */
function declaredDecoder(bytes: Uint8Array): TextDecoder | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, PRESCAN_BYTES)).toString('latin1');
  const label = META_CHARSET.exec(head)?.[1] ?? XML_ENCODING.exec(head)?.[1];
  if (label === undefined) return undefined;
  const decoder = decoderFor(label);
  // WHATWG: a meta declaring UTF-16 in an ASCII-compatible file means UTF-8.
  if (decoder !== undefined && decoder.encoding.startsWith('utf-16')) return new TextDecoder('utf-8');
  return decoder;
}

/** Strict UTF-8, or undefined when the bytes are not valid UTF-8. */
function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** True when any valid multi-byte UTF-8 sequence occurs (then bad bytes are damage, not latin1). */
function hasUtf8Sequence(bytes: Uint8Array): boolean {
  for (let i = 0; i + 1 < bytes.length; i++) {
    const b = bytes[i];
    if (b >= 0xc2 && b <= 0xf4 && (bytes[i + 1] & 0xc0) === 0x80) {
      const need = b < 0xe0 ? 1 : b < 0xf0 ? 2 : 3;
      let ok = true;
      for (let k = 1; k <= need; k++) if (i + k >= bytes.length || (bytes[i + k] & 0xc0) !== 0x80) ok = false;
      if (ok) return true;
    }
  }
  return false;
}

/**
 * Decode a page. Order: BOM; declared charset (a declared UTF-8 that fails and holds no valid
 * multi-byte sequence is read as windows-1252; a declared legacy single-byte charset over valid
 * UTF-8 with multi-byte sequences is read as UTF-8); else UTF-8 with U+FFFD for bad bytes.
 */
export function decodeHtmlBytes(bytes: Uint8Array, source: string): { text: string; charset: string } {
  if (bytes.length === 0) throw new HyperlmError('DOC_EMPTY', `${source}: empty file`);
  let decoded: { text: string; charset: string };
  if (startsWith(bytes, [0xef, 0xbb, 0xbf])) {
    decoded = { text: new TextDecoder('utf-8').decode(bytes), charset: 'utf-8' };
  } else if (startsWith(bytes, [0xfe, 0xff]) || startsWith(bytes, [0xff, 0xfe])) {
    const charset = bytes[0] === 0xfe ? 'utf-16be' : 'utf-16le';
    decoded = { text: new TextDecoder(charset).decode(bytes), charset };
  } else {
    rejectBinary(bytes, source);
    decoded = decodeWithoutBom(bytes);
  }
  if (decoded.text.trim().length === 0) throw new HyperlmError('DOC_EMPTY', `${source}: only whitespace`);
  return decoded;
}

function decodeWithoutBom(bytes: Uint8Array): { text: string; charset: string } {
  const declared = declaredDecoder(bytes);
  const utf8 = strictUtf8(bytes);
  if (declared === undefined || declared.encoding === 'utf-8') {
    if (utf8 !== undefined) return { text: utf8, charset: 'utf-8' };
    if (declared !== undefined && !hasUtf8Sequence(bytes)) {
      return { text: new TextDecoder('windows-1252').decode(bytes), charset: 'windows-1252' };
    }
    return { text: new TextDecoder('utf-8').decode(bytes), charset: 'utf-8' };
  }
  const singleByte = declared.encoding === 'windows-1252' || declared.encoding.startsWith('iso-8859');
  if (singleByte && utf8 !== undefined && hasUtf8Sequence(bytes)) return { text: utf8, charset: 'utf-8' };
  return { text: declared.decode(bytes), charset: declared.encoding };
}

/**
 * Decode a source file: UTF-8 (a BOM is dropped, invalid bytes become U+FFFD), after the same binary
 * and emptiness checks as pages. Code declares no charset, and UTF-8 is what npm/PyPI sources use.
 */
export function decodeCodeBytes(bytes: Uint8Array, source: string): string {
  if (bytes.length === 0) throw new HyperlmError('DOC_EMPTY', `${source}: empty file`);
  rejectBinary(bytes, source);
  const text = new TextDecoder('utf-8').decode(bytes);
  if (text.trim().length === 0) throw new HyperlmError('DOC_EMPTY', `${source}: only whitespace`);
  return text;
}
