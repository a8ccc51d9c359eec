// The text rules of one completion (src/serve/completion.ts) on real tokens of a trained tokenizer, fed one
// at a time as the engine does: stop strings cut across tokens, n_indent ends at an under-indented line
// (keeping its indentation, as llama.cpp's process_token erases from the first non-blank character), an
// empty line counts as under-indented too, t_max_predict_ms ends at the next newline once time is up, a
// character split over byte-fallback tokens is released whole, and the streamed pieces add up to `content`.
import test from 'ava';
import { CompletionText, type CompletionRules } from '../src/serve/completion.js';
import type { Tokenizer } from '../src/tokenize/tokenizer.js';
import { codeTokenizer } from './helpers/serve-model.js';

let tok: Tokenizer;
test.before(async () => {
  tok = await codeTokenizer();
});

/** Feeds the tokens of `text` (time advancing by `msPerToken`), then finishes as a stop token would. */
function feed(text: string, rules: Partial<CompletionRules>, msPerToken = 0) {
  const pieces: string[] = [];
  const c = new CompletionText(tok, { stop: [], nIndent: 0, tMaxPredictMs: 0, ...rules }, (t) => pieces.push(t));
  const ids = tok.encode(text);
  let fed = 0;
  for (const id of ids) {
    fed++;
    if (!c.push(id, fed * msPerToken)) break;
  }
  if (!c.ended) c.finish('eos');
  return { c, pieces, fed, total: ids.length };
}

test('a stop string spanning tokens is cut; the streamed pieces add up to the content', (t) => {
  const text = 'if (a) {\n  return b;\n}\n// end of file\nmore';
  t.true(tok.encode('// end of').length >= 2);
  const { c, pieces } = feed(text, { stop: ['// end of'] });
  t.is(c.content, 'if (a) {\n  return b;\n}\n');
  t.is(c.stopType, 'word');
  t.is(c.stoppingWord, '// end of');
  t.is(pieces.join(''), c.content);
});

test('n_indent: the first under-indented line ends the completion, keeping its indentation', (t) => {
  const { c, pieces, fed, total } = feed('x = 1;\n    y = 2;\n  z = 3;\n    w = 4;\n', { nIndent: 4 });
  t.is(c.content, 'x = 1;\n    y = 2;\n  ');
  t.is(c.stopType, 'limit');
  t.true(fed < total, 'generation stopped early');
  t.is(pieces.join(''), c.content);
  t.is(feed('a\n\n    b\n', { nIndent: 2 }).c.content, 'a\n', 'an empty line is under-indented (llama.cpp)');
  t.is(feed('first line at any indent\n    ok\n', { nIndent: 4 }).c.stopType, 'eos');
});

test('t_max_predict_ms: once time is up, the next newline ends the completion', (t) => {
  const text = 'aaa bbb ccc\nddd eee fff\nggg\n';
  const slow = feed(text, { tMaxPredictMs: 5 }, 10); // 10 ms per token: the first newline is already late
  t.is(slow.c.content, 'aaa bbb ccc\n');
  t.is(slow.c.stopType, 'limit');
  t.true(slow.c.hasNewLine);
  t.is(feed(text, { tMaxPredictMs: 1e9 }, 10).c.content, text);
});

test('a character split over byte-fallback tokens is released whole', (t) => {
  const text = 'é→🙂 ok';
  const ids = tok.encode(text);
  t.true(ids.length > [...text].length, 'the test text uses byte fallback');
  const { c, pieces } = feed(text, {});
  t.is(c.content, text);
  t.false(
    pieces.some((p) => p.includes('\uFFFD')),
    JSON.stringify(pieces),
  );
});
