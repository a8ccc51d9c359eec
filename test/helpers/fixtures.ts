// Shared test fixtures: a small input folder made from the bundled sample, and a tiny preprocess config.
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PREPROCESS, type PreprocessConfig } from '../../src/pipeline/config.js';

/** The repository root (tests run from dist/test/…). */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const SAMPLE = join(REPO, 'data/sample');

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `hyperlm-${label}-`));
}

/** A copy of a few pages (with their images) and code files from data/sample. */
export function smallInput(pages = 6, code = 6): string {
  const dir = tempDir('input');
  const all = walk(SAMPLE);
  const html = all.filter((f) => f.endsWith('.html')).slice(0, pages);
  const src = all.filter((f) => /\.(js|ts)$/.test(f)).slice(0, code);
  for (const f of [...html, ...src]) cpSync(f, join(dir, relative(SAMPLE, f)));
  // images referenced by the copied gimp pages live beside them
  const gimp = join(SAMPLE, 'html/gimp-help-en/images');
  if (html.some((f) => f.includes('gimp-help-en')))
    cpSync(gimp, join(dir, 'html/gimp-help-en/images'), { recursive: true });
  return dir;
}

export function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

export function tinyConfig(inputs: string[], out: string, over: Partial<PreprocessConfig> = {}): PreprocessConfig {
  return {
    ...DEFAULT_PREPROCESS,
    inputs,
    out,
    vocabSize: 1000,
    tokenizerSampleMb: 4,
    workers: 1,
    validFraction: 0.2,
    shardDocs: 4,
    ...over,
  };
}

/**
 * Every file of a preprocess output folder (base64 by relative path), without the resumption state in
 * .state/ and with the manifest's process-specific `timing` removed: equal snapshots mean byte-identical output.
 */
export function outputSnapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of walk(dir)) {
    const rel = relative(dir, f);
    if (rel.startsWith('.state')) continue;
    let body = readFileSync(f);
    if (rel === 'manifest.json') {
      const { timing: _timing, ...m } = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      body = Buffer.from(JSON.stringify(m));
    }
    files[rel] = body.toString('base64');
  }
  return files;
}
