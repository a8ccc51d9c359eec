// Hostile and broken inputs for charset decoding and minimization: every case yields a result
// or a HyperlmError with a code — deep unclosed nesting, a 50 MB text node, huge attributes,
// NUL bytes, invalid or mis-declared encodings, binary files, random bytes.

import test from 'ava';
import { HyperlmError, type ErrorCode } from '../src/errors.js';
import { decodeHtmlBytes } from '../src/minimize/charset.js';
import type { MinimizedDocument } from '../src/data/document.js';
import { DEFAULT_MINIMIZE, minimizeHtml, resolveMinimizeOptions } from '../src/minimize/minimize.js';

const LOOSE = resolveMinimizeOptions({ minTextRatio: 0 });
const flat = (doc: MinimizedDocument) =>
  doc.segments.map((s) => (typeof s === 'string' ? s : doc.images[s.image].src)).join('');
const bytes = (...parts: Array<string | number[]>) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

/** Result or a coded HyperlmError; anything else fails the test. */
function outcome(run: () => MinimizedDocument): MinimizedDocument | HyperlmError['code'] {
  try {
    return run();
  } catch (err) {
    if (err instanceof HyperlmError) return err.code;
    throw err;
  }
}

for (const depth of [1_000, 10_000]) {
  test(`${depth} unclosed nested tags do not overflow the stack`, (t) => {
    const text = 'deep text '.repeat(20);
    const html = '<div class="x">'.repeat(depth) + '<span><b>'.repeat(depth / 2) + text;
    const doc = minimizeHtml(html, LOOSE, 'deep.html');
    const out = flat(doc);
    t.true(out.includes(text.trim()));
    // Every div folds into one; the spans and bolds stay nested and are closed.
    t.is(out.split('<div').length - 1, 1);
    t.is(out.split('</span>').length - 1, depth / 2);
    t.is(doc.stats['div-fold'].nodes, depth - 1);
    t.is(flat(minimizeHtml(out, LOOSE, 'deep.html')), out);
  });
}

test('100,000 nested tags are refused with DOC_TOO_LARGE, not a stack overflow or a hang', (t) => {
  const html = '<div>'.repeat(100_000) + '<p>text</p>';
  const err = t.throws(() => minimizeHtml(html, LOOSE, 'deep100k.html'), { instanceOf: HyperlmError });
  t.is(err?.code, 'DOC_TOO_LARGE');
  t.regex(err?.message ?? '', /deep100k\.html.*maxDepth 25000/);
});

test('deep nesting of dropped and short elements and stray closers', (t) => {
  const html = '<nav>'.repeat(10_000) + '</div></p></nav>'.repeat(10) + '<ul><li>'.repeat(5_000) + '<p>tail</p>';
  t.is(
    outcome(() => minimizeHtml(html, LOOSE, 'nest.html')),
    'DOC_EMPTY',
  );
  const lists = flat(minimizeHtml(`${'<ul><li>'.repeat(5_000)}<p>${'tail '.repeat(30)}</p>`, LOOSE, 'lists.html'));
  t.is(lists.split('</li></ul>').length - 1, 5_000);
});

test('a 50 MB text node', (t) => {
  const big = 'word  \n'.repeat(50_000_000 / 7);
  const doc = minimizeHtml(`<html><body><p>${big}</p></body></html>`, DEFAULT_MINIMIZE, 'big.html');
  const out = flat(doc);
  t.is(out.length, '<html><body><p></p></body></html>'.length + ('word '.repeat(50_000_000 / 7).length - 1));
  t.true(doc.textRatio > 0.5);
});

test('huge attribute values are capped and counted', (t) => {
  const huge = 'c'.repeat(5_000_000);
  const doc = minimizeHtml(
    `<p class="${huge}" title="a&quot;b" data-blob="${huge}">${'text '.repeat(40)}</p>`,
    LOOSE,
    'attr.html',
  );
  const out = flat(doc);
  t.true(out.includes(`<p class="${'c'.repeat(DEFAULT_MINIMIZE.maxAttrLength)}" title="a&quot;b">`));
  t.deepEqual(doc.stats['attr-truncated'], { nodes: 1, chars: huge.length - DEFAULT_MINIMIZE.maxAttrLength });
  t.is(doc.stats.attribute.chars, 'data-blob'.length + huge.length);
  t.is(flat(minimizeHtml(out, LOOSE, 'attr.html')), out);
  // A data: image over maxImageSrcLength loses its slot but keeps its alt.
  const img = minimizeHtml(
    `<p>x<img alt="big" src="data:image/png;base64,${'A'.repeat(2_000_000)}"></p>`,
    LOOSE,
    'img.html',
  );
  t.deepEqual(img.images, []);
  t.true(flat(img).includes('<img alt="big">'));
});

test('NUL characters in text and attributes become U+FFFD', (t) => {
  const out = flat(minimizeHtml('<p title="a\0b">x\0y\0\0z</p>', LOOSE, 'nul.html'));
  t.is(out, '<html><body><p title="a\uFFFDb">x\uFFFDy\uFFFD\uFFFDz</p></body></html>');
});

test('broken markup: unclosed comment, script, attribute, lone angle brackets', (t) => {
  for (const html of [
    '<p>a</p><!-- never closed',
    '<p>a</p><script>while(1){}',
    '<p title="open>text',
    '< p > 1 < 2 > 3 </ p>',
    '<<<>>>',
    '</div></div></div>',
    '<p>&#0;&#xD800;&#x110000;&bogus;</p>',
    '<p>a<![CDATA[ x ]]>b</p>',
    '<?php echo 1; ?><p>php</p>',
    '<DIV><P>Mixed<Br/>Case</p></div>',
    '<p>x</p><xmp>a &lt; <b></xmp><p>y</p>',
    '<p>x</p><plaintext><p>y &amp;',
    '<math><mi>x</mi><mo>&lt;</mo></math>',
    '<table><p>in table<tr><td>cell</table>',
    '<p>a<table><tr><td>b</td></tr></table>c</p>',
  ]) {
    const result = outcome(() => minimizeHtml(html, LOOSE, 'broken.html'));
    if (typeof result === 'string') t.is(result, 'DOC_EMPTY', html);
    else t.is(flat(minimizeHtml(flat(result), LOOSE, 'again.html')), flat(result), html);
  }
});

test('charset: BOMs, meta charset, http-equiv, xml declaration', (t) => {
  const cyrillic = [0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]; // "Привет" in windows-1251
  t.deepEqual(decodeHtmlBytes(bytes('<meta charset="windows-1251"><p>', cyrillic), 'a'), {
    text: '<meta charset="windows-1251"><p>Привет',
    charset: 'windows-1251',
  });
  t.is(
    decodeHtmlBytes(
      bytes('<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><p>', [0xf0, 0xd2]),
      'b',
    ).text.slice(-2),
    'Пр',
  );
  t.is(decodeHtmlBytes(bytes('<?xml version="1.0" encoding="ISO-8859-1"?><p>caf', [0xe9]), 'c').text.slice(-4), 'café');
  t.deepEqual(decodeHtmlBytes(bytes([0xef, 0xbb, 0xbf], '<p>x'), 'd'), { text: '<p>x', charset: 'utf-8' });
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<p>π</p>', 'utf16le')]);
  t.deepEqual(decodeHtmlBytes(utf16, 'e'), { text: '<p>π</p>', charset: 'utf-16le' });
  t.deepEqual(decodeHtmlBytes(Buffer.from('<p>naïve</p>'), 'f'), { text: '<p>naïve</p>', charset: 'utf-8' });
});

test('charset: invalid UTF-8 becomes U+FFFD; wrong or unknown declarations fall back', (t) => {
  t.deepEqual(decodeHtmlBytes(bytes('<p>a', [0xff, 0xc3], 'b ', [0xe2, 0x82], '</p>'), 'x'), {
    text: '<p>a\uFFFD\uFFFDb \uFFFD</p>',
    charset: 'utf-8',
  });
  // declared UTF-8, but the bytes are latin1
  t.deepEqual(decodeHtmlBytes(bytes('<meta charset=utf-8><p>caf', [0xe9], ' na', [0xef], 've'), 'y'), {
    text: '<meta charset=utf-8><p>café naïve',
    charset: 'windows-1252',
  });
  // declared UTF-8 with real UTF-8 text and one damaged byte: stays UTF-8
  t.is(decodeHtmlBytes(bytes('<meta charset=utf-8><p>', [0xc3, 0xa9], ' x', [0xff]), 'z').text.slice(-4), 'é x\uFFFD');
  // declared latin1 over valid UTF-8
  t.deepEqual(decodeHtmlBytes(Buffer.from('<meta charset="iso-8859-1"><p>café</p>'), 'w'), {
    text: '<meta charset="iso-8859-1"><p>café</p>',
    charset: 'utf-8',
  });
  t.is(decodeHtmlBytes(Buffer.from('<meta charset="no-such-charset"><p>é</p>'), 'v').charset, 'utf-8');
});

test('charset: binary and empty inputs are coded errors naming the source', (t) => {
  const cases: Array<[Uint8Array, ErrorCode]> = [
    [bytes([0x89], 'PNG\r\n', [0x1a, 0x0a, 0, 0]), 'DOC_BINARY'],
    [bytes('<p>a', [0], 'b</p>'), 'DOC_BINARY'],
    [bytes([1, 2, 3, 4, 5, 6, 7, 8], '<p>ab</p>'), 'DOC_BINARY'],
    [bytes([0x1f, 0x8b, 8, 0]), 'DOC_BINARY'],
    [new Uint8Array(0), 'DOC_EMPTY'],
    [bytes(' \n\t '), 'DOC_EMPTY'],
  ];
  for (const [input, code] of cases) {
    const err = t.throws(() => decodeHtmlBytes(input, 'dir/file.html'), { instanceOf: HyperlmError });
    t.is(err?.code, code);
    t.regex(err?.message ?? '', /dir\/file\.html/);
  }
  // NUL after the first KB is not a binary signal; minimize turns it into U+FFFD.
  const late = decodeHtmlBytes(bytes(`<p>${'a'.repeat(2000)}`, [0], '</p>'), 'late');
  t.true(flat(minimizeHtml(late.text, LOOSE, 'late')).includes('a\uFFFD'));
});

test('random bytes through decode and minimize give a result or a coded error', (t) => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const alphabet = [
    '<',
    '>',
    '/',
    '"',
    "'",
    '=',
    '&',
    ';',
    '#',
    '!',
    '-',
    'div',
    'p',
    'img',
    'script',
    'pre',
    ' ',
    '\n',
    'a',
    'é',
    '\0',
  ];
  for (let i = 0; i < 300; i++) {
    const noise =
      i % 2 === 0
        ? Buffer.from(Array.from({ length: 50 + Math.floor(rand() * 500) }, () => Math.floor(rand() * 256)))
        : Buffer.from(
            Array.from(
              { length: 50 + Math.floor(rand() * 300) },
              () => alphabet[Math.floor(rand() * alphabet.length)],
            ).join(''),
          );
    const decoded = (() => {
      try {
        return decodeHtmlBytes(noise, `noise-${i}`).text;
      } catch (err) {
        t.true(err instanceof HyperlmError);
        return undefined;
      }
    })();
    if (decoded === undefined) continue;
    const result = outcome(() => minimizeHtml(decoded, LOOSE, `noise-${i}`));
    if (typeof result !== 'string') t.is(flat(minimizeHtml(flat(result), LOOSE, 'again')), flat(result), `noise-${i}`);
  }
  t.pass();
});
