// Code documents: the `<| file lang=… path=… |>` header round-trips through parseCodeDocument for
// awkward paths, the text stays byte-for-byte (no HTML escaping), and extensions map to languages.

import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import { codeDocumentText, languageForPath, parseCodeDocument } from '../src/minimize/code-document.js';

test('header format and verbatim text', (t) => {
  const text = 'if (a < b && c > d) {\n\treturn "<| x |>";\n}\n';
  const doc = codeDocumentText('src/a.ts', 'typescript', text);
  t.is(doc, `<| file lang=typescript path=src/a.ts |>\n${text}`);
  t.deepEqual(parseCodeDocument(doc), { relPath: 'src/a.ts', language: 'typescript', text });
});

test('awkward paths and texts round-trip exactly', (t) => {
  const paths = ['my dir/file name.py', '100%/a|b>c.go', 'tab\there/x.rs', 'ünï/código.java', 'a%20b.c', '', 'x'];
  const texts = ['', '\n', '\r\n\r\n', '\0binary-ish\uFFFD', '<| file lang=x path=y |>\nnested header', '🌍'.repeat(3)];
  for (const relPath of paths) {
    for (const text of texts) {
      const doc = codeDocumentText(relPath, 'python', text);
      t.is(doc.indexOf('\n'), doc.indexOf('|>\n') + 2, 'header is one line');
      t.deepEqual(parseCodeDocument(doc), { relPath, language: 'python', text });
    }
  }
});

test('real source files from the corpus round-trip', (t) => {
  const root = '/work/shared/corpus/code';
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => languageForPath(f) !== undefined)
    .slice(0, 50);
  t.true(files.length > 0);
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(join(root, f), 'utf8');
    } catch {
      continue; // a directory whose name looks like a file
    }
    const lang = languageForPath(f)!;
    t.deepEqual(parseCodeDocument(codeDocumentText(f, lang, text)), { relPath: f, language: lang, text });
  }
});

test('languageForPath maps extensions and well-known names', (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['a.js', 'javascript'],
    ['a.mjs', 'javascript'],
    ['a.cjs', 'javascript'],
    ['a.jsx', 'javascript'],
    ['a.ts', 'typescript'],
    ['a.tsx', 'typescript'],
    ['a.py', 'python'],
    ['a.go', 'go'],
    ['a.rs', 'rust'],
    ['A.JAVA', 'java'],
    ['a.c', 'c'],
    ['a.h', 'c'],
    ['a.cpp', 'cpp'],
    ['a.cc', 'cpp'],
    ['a.hpp', 'cpp'],
    ['a.css', 'css'],
    ['a.json', 'json'],
    ['README.md', 'markdown'],
    ['run.sh', 'shell'],
    ['a.rb', 'ruby'],
    ['a.php', 'php'],
    ['dir.d/Makefile', 'makefile'],
    ['x/Dockerfile', 'dockerfile'],
    ['win\\path\\b.py', 'python'],
    ['.bashrc', undefined],
    ['noext', undefined],
    ['a.unknownext', undefined],
    ['archive.tar.gz', undefined],
  ];
  for (const [path, lang] of cases) t.is(languageForPath(path), lang, path);
});

test('bad headers and bad language names are coded errors', (t) => {
  for (const doc of [
    'no header',
    '<| file path=a |>\nx',
    '<| file lang=py path=a |>',
    '<| file lang=py path=%E0%A4%A |>\nx',
  ]) {
    t.is(t.throws(() => parseCodeDocument(doc), { instanceOf: HyperlmError })?.code, 'INPUT_BAD_RECORD', doc);
  }
  for (const lang of ['', 'Type Script', 'py|>', 'a\nb']) {
    const err = t.throws(() => codeDocumentText('a.txt', lang, 'x'), { instanceOf: HyperlmError });
    t.is(err?.code, 'CONFIG_BAD_VALUE');
    t.regex(err?.message ?? '', /a\.txt/);
  }
});
