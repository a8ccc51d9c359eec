// Bad input through the whole pipeline: each broken file becomes a counted skip naming the file (or a
// kept document), the run finishes, and no shard is left half-written.
import test from 'ava';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { preprocess } from '../src/pipeline/preprocess.js';
import { SAMPLE, tempDir, tinyConfig, walk } from './helpers/fixtures.js';

test('broken pages and files are skipped with reasons naming them; good documents are kept', async (t) => {
  const input = tempDir('bad');
  const good = walk(SAMPLE)
    .filter((f) => f.endsWith('.html'))
    .slice(0, 3);
  good.forEach((f, i) => copyFileSync(f, join(input, `good-${i}.html`)));
  const files: Record<string, string | Buffer> = {
    'empty.html': '',
    'whitespace.html': ' \n\t ',
    'binary.html': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]),
    // A NUL in the first KB marks a binary file; one further in is damage inside a real page.
    'nul-early.html': `<html><body><p>${'text with a NUL \u0000 inside. '.repeat(20)}</p></body></html>`,
    'nul-late.html': `<html><body><p>${'plain text before the damage. '.repeat(60)}NUL \u0000 here.</p></body></html>`,
    'invalid-utf8.html': Buffer.concat([
      Buffer.from(`<p>${'valid text before the damage. '.repeat(10)}`),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
      Buffer.from('</p>'),
    ]),
    'wrong-charset.html': Buffer.concat([
      Buffer.from(`<meta charset="utf-8"><p>${'caf'.repeat(40)}`),
      Buffer.from([0xe9]),
      Buffer.from(' au lait</p>'),
    ]),
    'deep.html': `${'<div>'.repeat(10_000)}${'deep text '.repeat(300)}`,
    'huge-attr.html': `<p title="${'x'.repeat(1_000_000)}">${'short page with a huge attribute. '.repeat(10)}</p>`,
    'escape.html': `<p>${'images that point outside the input root. '.repeat(5)}<img alt="passwd" src="/etc/passwd"><img alt="up" src="../../../../etc/passwd"></p>`,
    'code/empty.ts': '',
    'code/binary.js': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    'code/ok.ts': 'export const answer = 42;\n',
  };
  mkdirSync(join(input, 'code'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(input, name), body);

  const out = tempDir('bad-out');
  const m = await preprocess(tinyConfig([input], out, { vocabSize: 800, workers: 2 }));
  t.is(m.documents.in, 3 + Object.keys(files).length);
  t.true((m.skipped.DOC_EMPTY ?? 0) >= 3, JSON.stringify(m.skipped));
  t.true((m.skipped.DOC_BINARY ?? 0) >= 3, JSON.stringify(m.skipped));
  t.false('DOC_CRASHED' in m.skipped);
  t.false('DOC_TIMEOUT' in m.skipped);
  // Every skip is listed with the file it names.
  const skipped = readFileSync(join(out, 'skipped.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { source: string; detail: string; reason: string });
  for (const name of [
    'empty.html',
    'whitespace.html',
    'binary.html',
    'nul-early.html',
    'code/empty.ts',
    'code/binary.js',
  ]) {
    const s = skipped.find((x) => x.source.endsWith(name));
    t.truthy(s, `${name} is listed in skipped.jsonl`);
    t.true(s!.detail.includes(name), s?.detail);
  }
  // The damaged-but-readable pages and the good ones are all kept.
  t.is(m.documents.out, m.documents.in - skipped.length);
  for (const kept of [
    'nul-late.html',
    'invalid-utf8.html',
    'wrong-charset.html',
    'deep.html',
    'escape.html',
    'good-0.html',
    'code/ok.ts',
  ]) {
    t.false(
      skipped.some((x) => x.source.endsWith(kept)),
      `${kept} was kept`,
    );
  }
  // A megabyte attribute with little text is caught by the text-to-HTML ratio filter.
  t.is(skipped.find((x) => x.source.endsWith('huge-attr.html'))?.reason, 'DOC_LOW_TEXT_RATIO');
  // Nothing half-written is left behind.
  t.deepEqual(
    readdirSync(out).filter((f) => f.endsWith('.tmp')),
    [],
  );
});
