// Recursive folder walk in a deterministic order, and the file-extension → input-kind map.
// The walk streams one directory listing at a time (never the whole tree) and yields files in the
// byte order of their path relative to the root: inside a directory, a subdirectory `d` sorts as
// `d/` so that `a-c` (0x2D) comes before `a/b` (0x2F), exactly as a global sort of relPaths would.
// Source files are recognised by `languageForPath` (src/tokenize/code-document.ts).

import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { HyperlmError } from '../errors.js';
import { languageForPath } from '../minimize/code-document.js';

/** How a file is read: a page, a source file, a container of pages, or nothing we know. */
export type FileKind =
  | { kind: 'html' }
  | { kind: 'code'; language: string }
  | { kind: 'warc' }
  | { kind: 'jsonl' }
  | { kind: 'skip'; reason: string };

const HTML_EXTENSIONS = new Set(['.html', '.htm', '.xhtml']);


/** Classify a path by its (case-insensitive) extension; `.warc.gz` and `.jsonl.gz` are containers. */
export function fileKindForPath(filePath: string): FileKind {
  const lower = filePath.toLowerCase();
  if (lower.endsWith('.warc') || lower.endsWith('.warc.gz')) return { kind: 'warc' };
  if (lower.endsWith('.jsonl') || lower.endsWith('.jsonl.gz')) return { kind: 'jsonl' };
  const ext = path.extname(lower);
  if (HTML_EXTENSIONS.has(ext)) return { kind: 'html' };
  const language = languageForPath(filePath);
  if (language !== undefined) return { kind: 'code', language };
  return { kind: 'skip', reason: ext === '' ? 'no-extension' : `extension ${ext}` };
}

/** Directory names never descended into: tooling and VCS folders are not part of a site. */
function skipDirectory(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface WalkEntry {
  /** Absolute path of the file. */
  filePath: string;
  /** Path relative to the walk root, with `/` separators. */
  relPath: string;
}

/**
 * Yield regular files under `root` in byte order of relPath. Symlinks are not followed
 * (a link can point outside the input or form a cycle); they are reported via `onSkip`.
 */
export async function* walkFolder(
  root: string,
  onSkip: (reason: string, filePath: string) => void,
  relDir = '',
): AsyncGenerator<WalkEntry> {
  const dir = relDir === '' ? root : path.join(root, relDir);
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    onSkip('unreadable-directory', dir);
    return;
  }
  const keyed = entries.map((e) => ({ e, key: e.isDirectory() ? `${e.name}/` : e.name }));
  keyed.sort((x, y) => byteCompare(x.key, y.key));
  for (const { e } of keyed) {
    const rel = relDir === '' ? e.name : `${relDir}/${e.name}`;
    if (e.isDirectory()) {
      if (skipDirectory(e.name)) continue;
      yield* walkFolder(root, onSkip, rel);
    } else if (e.isFile()) {
      yield { filePath: path.join(root, rel), relPath: rel };
    } else {
      onSkip(e.isSymbolicLink() ? 'symlink' : 'not-a-regular-file', path.join(root, rel));
    }
  }
}

/** Text files under the inputs, in order: folders walked in byte order of relative path. */
export async function listTextFiles(inputs: string[], kinds: 'html' | 'code' | 'all'): Promise<string[]> {
  const files: string[] = [];
  const wanted = (p: string): boolean => {
    const k = fileKindForPath(p).kind;
    return (k === 'html' || k === 'code') && (kinds === 'all' || k === kinds);
  };
  for (const input of inputs) {
    let st;
    try {
      st = await fs.stat(input);
    } catch (err) {
      throw new HyperlmError('INPUT_NOT_FOUND', `--input ${input} does not exist`, { cause: err });
    }
    if (st.isFile()) files.push(path.resolve(input));
    else for await (const e of walkFolder(path.resolve(input), () => {})) if (wanted(e.filePath)) files.push(e.filePath);
  }
  return files;
}
