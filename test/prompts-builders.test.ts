// Prompt builders: the exact strings of every task's prompt (hand-written expectations), the ids they encode
// to (sentinels, image delimiters and codes at the layout's ids), truncation that keeps the beginning of a
// page body and the end of a context before an image (the nearest text), and every input that cannot fit.
import test from 'ava';
import {
  choicePrompt,
  captionPromptCausal,
  captionPromptMasked,
  encodePrompt,
  imageInfillPrompt,
  renderPrompt,
  splitMinimizedPage,
  textToImagePrompt,
  titlePrompt,
  type PromptPart,
} from '../src/prompts/index.js';
import { promptTokenizer } from './helpers/prompt-model.js';

const PAGE =
  '<html lang="en"><head><title>My Page &amp; "Co"</title><meta name="description" content="About things">' +
  '<meta name="keywords" content="a"></head><body><h1>My Page</h1><p>Hello world this is a paragraph with enough text ' +
  'to be kept.</p><img src="a.png" alt="a cat" title="T"><p>After.</p></body></html>';
const BODY =
  '<p>Hello world this is a paragraph with enough text to be kept.</p><img alt="a cat" title="T"><p>After.</p>';

test('title and description prompts: the exact HTLM/CM3 strings, with and without a repeated <h1>', (t) => {
  const title = titlePrompt(PAGE);
  t.is(
    renderPrompt(title.parts),
    `<html lang="en"><head><title><mask:0></title></head><body><h1>My Page</h1>${BODY}</body></html><mask:0>`,
  );
  t.is(title.reference, 'My Page & "Co"');
  t.true(title.h1RepeatsTitle);
  t.false(title.droppedH1);
  const dropped = titlePrompt(PAGE, { dropRepeatedH1: true });
  t.is(
    renderPrompt(dropped.parts),
    `<html lang="en"><head><title><mask:0></title></head><body>${BODY}</body></html><mask:0>`,
  );
  t.true(dropped.droppedH1);
  const description = titlePrompt(PAGE, { target: 'description' });
  t.is(
    renderPrompt(description.parts),
    `<html lang="en"><head><meta content="<mask:0>" name="description"></head><body><h1>My Page</h1>${BODY}</body></html><mask:0>`,
  );
  t.is(description.reference, 'About things');
  // an <h1> that does not repeat the title stays, whatever the option says
  const other = titlePrompt(PAGE.replace('<h1>My Page</h1>', '<h1>Something else</h1>'), { dropRepeatedH1: true });
  t.false(other.h1RepeatsTitle);
  t.true(renderPrompt(other.parts).includes('<h1>Something else</h1>'));
  // a page without a title still gets the sentinel; there is no reference
  const untitled = titlePrompt('<html><body><p>Only a paragraph of body text here.</p></body></html>');
  t.is(
    renderPrompt(untitled.parts),
    '<html><head><title><mask:0></title></head><body><p>Only a paragraph of body text here.</p></body></html><mask:0>',
  );
  t.is(untitled.reference, undefined);
  t.deepEqual(splitMinimizedPage('<html><head><title>A</title></head><body><p>b</p></body></html>'), {
    htmlOpen: '<html>',
    title: 'A',
    description: undefined,
    body: '<p>b</p>',
  });
});

test('caption, text-to-image and image-infill prompts: the exact CM3 strings (alt before src)', (t) => {
  const input = { context: '<p>Before</p>', codes: [3, 7] };
  t.is(
    renderPrompt(captionPromptMasked(input)),
    '<p>Before</p><img alt="<mask:0>" src="<image><img:3><img:7></image>"><mask:0>',
  );
  t.is(renderPrompt(captionPromptCausal(input)), '<p>Before</p><img src="<image><img:3><img:7></image>" title="');
  t.is(renderPrompt(textToImagePrompt('a red "cat" & dog')), '<img alt="a red &quot;cat&quot; &amp; dog" src="<image>');
  t.is(
    renderPrompt(imageInfillPrompt([1, 2, 3, 4], 1, 3, 'x')),
    '<img alt="x" src="<image><img:1><mask:0><img:4></image>"><mask:0>',
  );
  t.is(renderPrompt(imageInfillPrompt([1, 2, 3, 4], 0, 4)), '<img src="<image><mask:0></image>"><mask:0>');
});

test('multiple-choice template: the exact HTML question/answer string', (t) => {
  t.is(
    choicePrompt('Which filter bends the image?'),
    '<div class="question">Which filter bends the image?</div><div class="answer">',
  );
  t.is(choicePrompt('N/A', { before: '<p>Q: ', after: '</p><p>A: ', close: '</p>' }), '<p>Q: N/A</p><p>A: ');
});

test('encodePrompt puts sentinels, image delimiters and codes at the layout ids', async (t) => {
  const tok = await promptTokenizer();
  const L = tok.layout;
  const enc = encodePrompt(tok, captionPromptMasked({ context: '<p>Before</p>', codes: [3, 7] }), 100, 'test');
  const want = [
    ...tok.encode('<p>Before</p>'),
    ...tok.encode('<img alt="'),
    L.maskBase,
    ...tok.encode('" src="'),
    L.imageBegin,
    L.imageBase + 3,
    L.imageBase + 7,
    L.imageEnd,
    ...tok.encode('">'),
    L.maskBase,
  ];
  t.deepEqual(enc.ids, want);
  t.is(enc.truncatedTokens, 0);
  t.is(enc.text, renderPrompt(captionPromptMasked({ context: '<p>Before</p>', codes: [3, 7] })));
  t.deepEqual(encodePrompt(tok, [{ text: 'a' }, { eom: true }, { mask: 2 }], 10, 'test').ids, [
    ...tok.encode('a'),
    L.eom,
    L.maskBase + 2,
  ]);
});

test('truncation keeps the beginning of a body and the end of a context before an image', async (t) => {
  const tok = await promptTokenizer();
  const long = Array.from({ length: 40 }, (_, i) => `<p>paragraph number ${i} of the page</p>`).join('');
  const body: PromptPart[] = [{ text: '<body>' }, { text: long, truncate: 'end' }, { text: '</body>' }, { mask: 0 }];
  const full = encodePrompt(tok, body, 10_000, 'test').ids.length;
  const cut = encodePrompt(tok, body, 60, 'test');
  t.is(cut.ids.length, 60);
  t.is(cut.truncatedTokens, full - 60);
  const kept = cut.text.slice('<body>'.length, cut.text.length - '</body><mask:0>'.length);
  t.true(long.startsWith(kept) && kept.length > 20, 'a prefix of the body survives');
  const context = captionPromptMasked({ context: long, codes: [1, 2, 3] });
  const near = encodePrompt(tok, context, 50, 'test');
  t.is(near.ids.length, 50);
  const keptContext = near.text.slice(0, near.text.indexOf('<img alt="'));
  t.true(long.endsWith(keptContext) && keptContext.length > 10, 'the text nearest the image survives');
  t.true(near.text.endsWith('<img alt="<mask:0>" src="<image><img:1><img:2><img:3></image>"><mask:0>'));
});

test('builders reject what cannot fit or is malformed, with named errors', async (t) => {
  const tok = await promptTokenizer();
  const code = (f: () => unknown) => (t.throws(f) as { code?: string }).code;
  // longer than the context even with the truncatable part emptied
  t.is(
    code(() => encodePrompt(tok, captionPromptMasked({ context: 'x', codes: new Array(40).fill(1) }), 30, 'test')),
    'PROMPT_TOO_LONG',
  );
  t.is(
    code(() => encodePrompt(tok, [{ text: 'a fixed text of several words that does not fit' }], 3, 'test')),
    'PROMPT_TOO_LONG',
  );
  // image codes outside the block
  t.is(
    code(() => encodePrompt(tok, captionPromptMasked({ codes: [1, 64] }), 100, 'test')),
    'PROMPT_BAD_INPUT',
  );
  t.is(
    code(() => encodePrompt(tok, captionPromptMasked({ codes: [-1] }), 100, 'test')),
    'PROMPT_BAD_INPUT',
  );
  t.is(
    code(() => encodePrompt(tok, [{ mask: tok.layout.maskCount }], 100, 'test')),
    'PROMPT_BAD_INPUT',
  );
  // empty inputs
  t.is(
    code(() => textToImagePrompt('  ')),
    'PROMPT_EMPTY',
  );
  t.is(
    code(() => imageInfillPrompt([1, 2, 3], 2, 2)),
    'PROMPT_BAD_INPUT',
  );
  t.is(
    code(() => imageInfillPrompt([1, 2, 3], 1, 4)),
    'PROMPT_BAD_INPUT',
  );
  t.is(
    code(() => titlePrompt('<html><head><title>T</title></head><body></body></html>')),
    'PROMPT_EMPTY',
  );
  t.is(
    code(() =>
      titlePrompt('<html><head><title>T</title></head><body><h1>T</h1></body></html>', { dropRepeatedH1: true }),
    ),
    'PROMPT_EMPTY',
  );
});
