// Minimal-HTML on real documentation pages and on small hand-made pages: well-formed canonical
// output (checked by re-parsing with htmlparser2 and by cheerio's parse5), idempotence, attribute
// order and whitelist, boilerplate and min-text rules, verbatim pre/code, image slots.

import test from 'ava';
import * as cheerio from 'cheerio';
import { Parser } from 'htmlparser2';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import type { MinimizedDocument } from '../src/data/document.js';
import { DEFAULT_MINIMIZE, minimizeHtml, resolveMinimizeOptions } from '../src/minimize/minimize.js';

const CORPUS = '/work/shared/corpus/html';
const PAGES = [
  'python3.11-doc/library/plistlib.html',
  'python3.11-doc/library/inspect.html',
  'git-doc/git-cat-file.html',
  'postgresql-doc-15/explicit-locking.html',
  'postgresql-doc-15/sql-createopfamily.html',
  'gimp-help-en/gimp-layer-delete.html',
];
const VOID = new Set([
  'br',
  'hr',
  'img',
  'meta',
  'col',
  'wbr',
  'area',
  'base',
  'embed',
  'input',
  'link',
  'param',
  'source',
  'track',
]);

/** The document as HTML, with each image slot filled by its src. */
function flat(doc: MinimizedDocument): string {
  return doc.segments.map((s) => (typeof s === 'string' ? s : doc.images[s.image].src)).join('');
}
function min(html: string, opts: Record<string, unknown> = {}): MinimizedDocument {
  return minimizeHtml(html, resolveMinimizeOptions({ minTextRatio: 0, ...opts }), 'test.html');
}
const long = (word: string) => `${word} `.repeat(Math.ceil(200 / (word.length + 1))).trim();

/** Re-parse and check: no implied closes, lowercase tags, sorted whitelisted attributes. */
function checkCanonical(t: { fail: (m: string) => void }, html: string): void {
  const allowed = new Set([...DEFAULT_MINIMIZE.attributes, ...DEFAULT_MINIMIZE.metaAttributes, 'src']);
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        if (name !== name.toLowerCase()) t.fail(`tag not lowercase: ${name}`);
        const names = Object.keys(attribs);
        if (names.join() !== [...names].sort().join()) t.fail(`attributes out of order on <${name}>: ${names}`);
        for (const a of names) if (!allowed.has(a)) t.fail(`attribute ${a} not whitelisted on <${name}>`);
      },
      onclosetag(name, implied) {
        if (implied && !VOID.has(name)) t.fail(`<${name}> closed implicitly: output is not well-formed`);
      },
      oncomment() {
        t.fail('comment in output');
      },
    },
    { lowerCaseTags: false, lowerCaseAttributeNames: false },
  );
  parser.end(html);
}

test('real pages give canonical, idempotent output that keeps the prose', (t) => {
  for (const page of PAGES) {
    const html = readFileSync(join(CORPUS, page), 'utf8');
    const doc = minimizeHtml(html, DEFAULT_MINIMIZE, page);
    const out = flat(doc);
    t.true(out.startsWith('<html'), page);
    t.true(out.endsWith('</body></html>'), page);
    t.false(/<(script|style|nav|link|iframe|form)\b/.test(out), page);
    checkCanonical(t, out);
    t.is(flat(minimizeHtml(out, DEFAULT_MINIMIZE, page)), out, `${page} is not idempotent`);
    // Independent parser (parse5 via cheerio): the title survives and the body text is a
    // substantial share of the page's text.
    const ours = cheerio.load(out);
    const theirs = cheerio.load(html);
    t.is(
      ours('title').text(),
      theirs('title')
        .text()
        .replace(/[ \t\n\f\r]+/g, ' ')
        .replace(/^ | $/g, ''),
      page,
    );
    t.true(ours('body').text().length > 0.3 * theirs('body').text().replace(/\s+/g, ' ').length, page);
    t.true(doc.textRatio > 0 && doc.textRatio < 1);
  }
});

test('the whole corpus minimizes without crashing and idempotently', (t) => {
  let pages = 0;
  for (const dir of readdirSync(CORPUS)) {
    const files = readdirSync(join(CORPUS, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.html'))
      .slice(0, 40);
    for (const f of files) {
      const html = readFileSync(join(CORPUS, dir, f), 'utf8');
      try {
        const out = flat(minimizeHtml(html, DEFAULT_MINIMIZE, f));
        t.is(flat(minimizeHtml(out, resolveMinimizeOptions({ minTextRatio: 0 }), f)), out, f);
        pages++;
      } catch (err) {
        t.true(err instanceof HyperlmError && err.code === 'DOC_LOW_TEXT_RATIO', String(err));
      }
    }
  }
  t.true(pages > 100);
});

test('attributes are whitelisted and written in alphabetical order', (t) => {
  const out = flat(
    min(`<P><A Z="1" title="t" HREF="h?a=1&amp;b=2" onclick="x()" class=" c  d " id=i style="s">${long('x')}</A></P>`),
  );
  t.true(out.includes('<p><a class="c d" href="h?a=1&amp;b=2" id="i" title="t">'), out);
  t.is(out.indexOf('onclick'), -1);
  const doc = min('<p lang="de" data-x="1">hallo</p>');
  t.is(flat(doc), '<html><body><p lang="de">hallo</p></body></html>');
  t.deepEqual(doc.stats.attribute, { nodes: 1, chars: 'data-x'.length + 1 });
});

test('canonical escaping, entities and whitespace', (t) => {
  const out = flat(min('<p title=\'say "hi" <b>\'>  a &lt; b &amp;&amp; c&gt;d\n\n e&nbsp;f  </p>'));
  t.is(
    out,
    '<html><body><p title="say &quot;hi&quot; &lt;b&gt;">a &lt; b &amp;&amp; c&gt;d e\u00a0f</p></body></html>',
  );
});

test('pre, code and textarea keep their text verbatim; elsewhere whitespace collapses', (t) => {
  const code = '\n  def f(x):\n\t  return x  <  2\n\n';
  const out = flat(
    min(`<p>one   two</p><pre class="py">${code.replace('<', '&lt;')}</pre><p>a <code>  x  =  1 </code> b</p>`),
  );
  t.true(out.includes(`<pre class="py">${code.replace('<', '&lt;')}</pre>`), out);
  t.true(out.includes('<p>one two</p>'));
  t.true(out.includes('<p>a <code>  x  =  1 </code> b</p>'), out);
});

test('drops scripts, comments and boilerplate by tag, role, class/id and copyright text', (t) => {
  const body = `<p>${long('content')}</p>`;
  const html = `<html><head><script>var a=1;</script><style>p{}</style><link rel=stylesheet href=x.css></head><body>
    <!-- a comment --><header><h1>Site</h1></header><nav><a href="/">Home</a></nav>
    <div role="navigation">${long('menu')}</div><div class="breadcrumb-trail">${long('crumb')}</div>
    <div id="cookie_banner">${long('cookies')}</div><aside>${long('side')}</aside>
    <article><header><h1>Real title</h1></header>${body}</article>
    <p>© 2024 Example Corp. All rights reserved.</p><footer>${long('foot')}</footer>
    <form><input name=q><button>Go</button></form><svg><text>svg</text></svg></body></html>`;
  const doc = min(html);
  const out = flat(doc);
  t.is(out, `<html><body><article><header><h1>Real title</h1></header>${body}</article></body></html>`);
  t.is(doc.stats['boilerplate-tag'].nodes, 4);
  t.is(doc.stats['boilerplate-role'].nodes, 1);
  t.is(doc.stats['boilerplate-hint'].nodes, 2);
  t.is(doc.stats.copyright.nodes, 1);
  t.is(doc.stats.comment.nodes, 1);
  t.is(doc.stats.tag.nodes, 5);
  t.true(doc.stats.tag.chars >= '<script>var a=1;</script>'.length);
});

test('min-text drops short containers but never ones holding an image with alt text or a pre', (t) => {
  const doc = min(
    `<div>short</div><div><p>${long('kept')}</p></div><ul><li>tiny</li></ul>` +
      '<div><img src="a.png" alt="A cat"></div><div><pre>x = 1</pre></div><p>short p stays</p>',
  );
  t.is(
    flat(doc),
    `<html><body><div><p>${long('kept')}</p></div><div><img alt="A cat" src="a.png"></div>` +
      '<div><pre>x = 1</pre></div><p>short p stays</p></body></html>',
  );
  t.is(doc.stats['min-text'].nodes, 2);
  const lower = flat(min('<div>short</div><ul><li>tiny</li></ul>', { minText: 3, minTextShort: 3 }));
  t.is(lower, '<html><body><div>short</div><ul><li>tiny</li></ul></body></html>');
});

test('nested divs fold into one with merged attributes', (t) => {
  const p = `<p>${long('text')}</p>`;
  const doc = min(`<div class="a" id="outer"> <div class="b a"><div id="inner" title="t">${p}</div></div> </div>`);
  t.is(flat(doc), `<html><body><div class="a b" id="outer" title="t">${p}</div></body></html>`);
  t.is(doc.stats['div-fold'].nodes, 2);
  t.is(
    flat(min(`<div><div>${p}</div><p>${long('more')}</p></div>`)),
    `<html><body><div><div>${p}</div><p>${long('more')}</p></div></body></html>`,
  );
});

test('title and description/OpenGraph/Twitter metas move to head; other metas are dropped', (t) => {
  const doc = min(
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="w">' +
      '<meta name="Description" content="About  it"><meta property="og:title" content="OG">' +
      '<meta name="twitter:card" content="summary"><title> The   Page </title></head><body><p>hi</p></body></html>',
  );
  t.is(
    flat(doc),
    '<html lang="en"><head><title>The Page</title><meta content="About it" name="Description">' +
      '<meta content="OG" property="og:title"><meta content="summary" name="twitter:card"></head><body><p>hi</p></body></html>',
  );
  t.is(doc.stats.meta.nodes, 2);
});

test('images become src slots in document order; srcset picks the largest; base href is exposed', (t) => {
  const doc = min(
    '<base href="https://ex.com/docs/"><p>a<img title="T" alt="One" src="1.png" width=3>' +
      '<img srcset="s.png 480w, l.png 1200w, m.png 800w"><img alt="lazy" data-src="lazy.png"><img></p>',
  );
  t.deepEqual(doc.segments, [
    '<html><body><p>a<img alt="One" src="',
    { image: 0 },
    '" title="T"><img src="',
    { image: 1 },
    '"><img alt="lazy" src="',
    { image: 2 },
    '"></p></body></html>',
  ]);
  t.deepEqual(
    doc.images.map((i) => i.src),
    ['1.png', 'l.png', 'lazy.png'],
  );
  t.is(doc.baseHref, 'https://ex.com/docs/');
  t.is(doc.stats['img-empty'].nodes, 1);
  const noSlots = min('<p>a<img alt="One" src="1.png"><img src="2.png"></p>', { imageSlots: false });
  t.deepEqual(noSlots.segments, ['<html><body><p>a<img alt="One"></p></body></html>']);
  t.deepEqual(noSlots.images, []);
});

test('image-only page and non-Latin text', (t) => {
  t.is(flat(min('<img alt="図" src="x.png">')), '<html><body><img alt="図" src="x.png"></body></html>');
  t.is(flat(min('<p>Привет, мир — 你好 🌍</p>')), '<html><body><p>Привет, мир — 你好 🌍</p></body></html>');
});

test('low text-to-HTML ratio and empty pages are counted skips with a code', (t) => {
  const scripty = `<html><head><script>${'x'.repeat(5000)}</script></head><body><p>hi</p></body></html>`;
  const err = t.throws(() => minimizeHtml(scripty, DEFAULT_MINIMIZE, 'page.html'), { instanceOf: HyperlmError });
  t.is(err?.code, 'DOC_LOW_TEXT_RATIO');
  t.regex(err?.message ?? '', /page\.html/);
  t.is(t.throws(() => min('   \n'), { instanceOf: HyperlmError })?.code, 'DOC_EMPTY');
  t.is(t.throws(() => min('<script>x</script><nav>n</nav>'), { instanceOf: HyperlmError })?.code, 'DOC_EMPTY');
});

test('resolveMinimizeOptions names unknown keys and bad values', (t) => {
  t.deepEqual(resolveMinimizeOptions({}), DEFAULT_MINIMIZE);
  t.is(resolveMinimizeOptions({ minText: 10 }).minText, 10);
  const unknown = t.throws(() => resolveMinimizeOptions({ minTxt: 1 }), { instanceOf: HyperlmError });
  t.is(unknown?.code, 'CONFIG_UNKNOWN_KEY');
  t.regex(unknown?.message ?? '', /minTxt/);
  for (const [key, value] of [
    ['minText', -1],
    ['minText', 1.5],
    ['imageSlots', 'yes'],
    ['attributes', 'alt'],
    ['dropTags', [1]],
    ['minTextRatio', Number.NaN],
  ] as const) {
    const e = t.throws(() => resolveMinimizeOptions({ [key]: value }), { instanceOf: HyperlmError });
    t.is(e?.code, 'CONFIG_BAD_VALUE');
    t.regex(e?.message ?? '', new RegExp(key));
  }
});
