// A small reader for gzipped tar archives (npm tarballs): POSIX ustar headers with the 155-byte name
// prefix, pax extended headers (`x`: path, linkpath, size; `g` is skipped) and GNU long names (`L`, `K`),
// after POSIX.1-2008 "pax" and GNU tar's format notes. It reads the whole archive into memory (npm
// tarballs are at most tens of MB) and yields regular files, directories and links; it never writes to
// disk, so a path in the archive cannot escape anywhere. Debian packages are read by dpkg-deb instead.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { HyperlmError } from '../errors.js';

export interface TarEntry {
  /** Path as stored, `/`-separated, without a leading `./`. */
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';
  /** File contents (empty for non-files); a view into the archive buffer. */
  data: Uint8Array;
  linkName: string;
  mode: number;
}

const BLOCK = 512;

function field(buf: Buffer, offset: number, length: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end < 0 || end > offset + length ? offset + length : end);
}

/** Octal, or GNU base-256 for sizes past 8 GB (high bit of the first byte set). */
function numeric(buf: Buffer, offset: number, length: number): number {
  if (buf[offset] & 0x80) {
    let n = 0;
    for (let i = offset + 1; i < offset + length; i++) n = n * 256 + buf[i];
    return n;
  }
  const text = field(buf, offset, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** pax records: `LEN key=value\n`, where LEN counts the whole record in bytes. */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = parseInt(data.toString('utf8', pos, space), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

const TYPES: Record<string, TarEntry['type']> = { '0': 'file', '\0': 'file', '': 'file', '7': 'file', '5': 'directory', '2': 'symlink', '1': 'hardlink' };

/** Entries of a tar archive (already un-gzipped) in archive order. */
export function* readTar(archive: Buffer, where = 'archive'): Generator<TarEntry> {
  let pos = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (pos + BLOCK <= archive.length) {
    const header = archive.subarray(pos, pos + BLOCK);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    const stored = header.reduce((s, b, i) => s + (i >= 148 && i < 156 ? 0x20 : b), 0);
    if (stored !== numeric(header, 148, 8)) throw new HyperlmError('INPUT_BAD_RECORD', `${where}: bad tar header checksum at byte ${pos}`);
    const typeflag = String.fromCharCode(header[156] || 0);
    const size = pax.size !== undefined ? Number(pax.size) : numeric(header, 124, 12);
    const dataStart = pos + BLOCK;
    if (dataStart + size > archive.length) throw new HyperlmError('INPUT_BAD_RECORD', `${where}: tar entry at byte ${pos} runs past the end`);
    const data = archive.subarray(dataStart, dataStart + size);
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'x') { pax = { ...pax, ...parsePax(data) }; continue; }
    if (typeflag === 'g') continue;
    if (typeflag === 'L') { longName = field(data, 0, data.length); continue; }
    if (typeflag === 'K') { longLink = field(data, 0, data.length); continue; }
    // POSIX ustar (`ustar\0`) has a name prefix at 345; old GNU tar (`ustar  `) keeps times there.
    const posix = header.toString('latin1', 257, 263) === 'ustar\0';
    const prefix = posix ? field(header, 345, 155) : '';
    const name = field(header, 0, 100);
    let path = pax.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    path = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
    const linkName = pax.linkpath ?? longLink ?? field(header, 157, 100);
    const type = TYPES[typeflag] ?? 'other';
    yield { path, type, data: type === 'file' ? data : new Uint8Array(0), linkName, mode: numeric(header, 100, 8) };
    pax = {};
    longName = undefined;
    longLink = undefined;
  }
}

/** Entries of a `.tgz` / `.tar.gz` file. */
export function readTarGz(file: string): Generator<TarEntry> {
  let archive: Buffer;
  try {
    archive = gunzipSync(readFileSync(file));
  } catch (err) {
    throw new HyperlmError('INPUT_UNREADABLE', `${file}: not a readable gzip archive (${(err as Error).message})`);
  }
  return readTar(archive, file);
}
