// The code-infill prompt builder (src/prompts/code-infill.ts) with a real BPE tokenizer trained on the bundled
// semver sources: the exact layout (header, prefix, <mask:0>, suffix, <mask:1>, <mask:0>) decodes back to the
// texts; truncation keeps the tokens nearest the cursor with the 3:1 split and lends unused budget; the
// quantized left cut keeps the prompt's start through a keystroke; extra files are whole, newest first, and
// the same with or without local text (the warm-up's cache matches); single-line and left-to-right modes;
// every bad input is a named error.
import test from 'ava';
import { HyperlmError } from '../src/errors.js';
import { buildInfillPrompt, INFILL_DEFAULTS, type InfillOptions } from '../src/prompts/code-infill.js';
import type { Tokenizer } from '../src/tokenize/tokenizer.js';
import { codeTokenizer, semverSources } from './helpers/serve-model.js';

let tok: Tokenizer;
let source: string;

test.before(async () => {
  tok = await codeTokenizer();
  source = semverSources().sort((a, b) => b.length - a.length)[0]; // the longest file, several kB
});

const opts = (contextTokens: number, over: Partial<InfillOptions> = {}): InfillOptions => ({
  ...INFILL_DEFAULTS,
  contextTokens,
  maxNewTokens: 32,
  ...over,
});

const errCode = (t: import('ava').ExecutionContext, f: () => unknown, code: string, re: RegExp) => {
  const err = t.throws(f);
  t.true(err instanceof HyperlmError && err.code === code, String(err));
  t.regex(err!.message, re);
};

test('the prompt is header, prefix, <mask:0>, suffix, <mask:1>, <mask:0>, and decodes back to the texts', (t) => {
  const prefix = 'const semver = require("semver");\nfunction bump(v) {\n  return ',
    suffix = ';\n}\nmodule.exports = bump;\n';
  const p = buildInfillPrompt(tok, { prefix, suffix, path: 'lib/bump.js' }, opts(512));
  const { maskBase, eom, eos } = tok.layout;
  const header = tok.encode('<| file lang=javascript path=lib/bump.js |>\n');
  t.deepEqual(p.tokens, [...header, ...tok.encode(prefix), maskBase, ...tok.encode(suffix), maskBase + 1, maskBase]);
  t.is(tok.decode(p.tokens), `<| file lang=javascript path=lib/bump.js |>\n${prefix}<mask:0>${suffix}<mask:1><mask:0>`);
  t.true(p.stopTokens.includes(eom) && p.stopTokens.includes(eos) && p.stopTokens.includes(maskBase + 1));
  t.deepEqual(p.stopStrings, []);
  t.false(p.truncated);
  t.deepEqual(p.parts.prefix, { kept: tok.encode(prefix).length, total: tok.encode(prefix).length });
});

test('the header names the language from the path, or from `language`; with neither there is none', (t) => {
  const a = buildInfillPrompt(tok, { prefix: 'x = 1', suffix: '', path: 'a b/t.py' }, opts(256));
  t.true(tok.decode(a.tokens).startsWith('<| file lang=python path=a%20b/t.py |>\n'));
  const b = buildInfillPrompt(tok, { prefix: 'x = 1', suffix: '', language: 'typescript' }, opts(256));
  t.true(tok.decode(b.tokens).startsWith('<| file lang=typescript path= |>\n'));
  const c = buildInfillPrompt(tok, { prefix: 'x = 1', suffix: '' }, opts(256));
  t.is(c.parts.header, 0);
  t.is(tok.decode(c.tokens), 'x = 1<mask:0><mask:1><mask:0>');
});

test('a long prefix and suffix are cut to the context, keeping the text nearest the cursor, 3:1', (t) => {
  const cursor = Math.floor(source.length / 2);
  const prefix = source.slice(0, cursor),
    suffix = source.slice(cursor);
  const o = opts(256, { truncateStep: 1 });
  const p = buildInfillPrompt(tok, { prefix, suffix }, o);
  const P = tok.encode(prefix),
    S = tok.encode(suffix);
  const budget = 256 - 32,
    local = budget - 3;
  t.true(P.length > local && S.length > local, 'both sides are longer than the budget');
  t.is(p.tokens.length, budget);
  t.deepEqual(p.parts.prefix, { kept: Math.floor(local * 0.75), total: P.length });
  t.deepEqual(p.tokens.slice(0, p.parts.prefix.kept), P.slice(P.length - p.parts.prefix.kept), 'the end of the prefix');
  const s0 = p.parts.prefix.kept + 1;
  t.deepEqual(p.tokens.slice(s0, s0 + p.parts.suffix.kept), S.slice(0, p.parts.suffix.kept), 'the start of the suffix');
  t.is(p.parts.suffix.kept, local - p.parts.prefix.kept);
  t.true(p.truncated);
  // a short suffix lends the prefix its unused share, and the other way round
  const shortSuffix = buildInfillPrompt(tok, { prefix, suffix: '}\n' }, o);
  t.is(shortSuffix.parts.prefix.kept, local - tok.encode('}\n').length);
  const shortPrefix = buildInfillPrompt(tok, { prefix: 'x', suffix }, o);
  t.is(shortPrefix.parts.suffix.kept, local - tok.encode('x').length);
});

test('with truncateStep, typing at the cursor keeps the start of a cut prompt (the cache stays valid)', (t) => {
  const cursor = Math.floor(source.length * 0.6);
  let shared = 0,
    n = 0;
  for (let k = 0; k < 10; k++) {
    const a = buildInfillPrompt(
      tok,
      { prefix: source.slice(0, cursor + k), suffix: source.slice(cursor + k) },
      opts(256),
    );
    const b = buildInfillPrompt(
      tok,
      { prefix: source.slice(0, cursor + k + 1), suffix: source.slice(cursor + k + 1) },
      opts(256),
    );
    let i = 0;
    while (i < a.tokens.length && a.tokens[i] === b.tokens[i]) i++;
    if (i >= a.parts.prefix.kept - 4) shared++;
    n++;
    t.true(b.tokens.length <= 256 - 32);
  }
  t.true(shared >= 7, `${shared} of ${n} one-character edits kept the prompt up to the cursor`);
  // without quantization every edit moves the cut and the shared prefix is lost
  let lost = 0;
  for (let k = 0; k < 10; k++) {
    const o1 = opts(256, { truncateStep: 1 });
    const a = buildInfillPrompt(tok, { prefix: source.slice(0, cursor + k), suffix: '' }, o1);
    const b = buildInfillPrompt(tok, { prefix: source.slice(0, cursor + k) + 'x', suffix: '' }, o1);
    if (a.tokens[0] !== b.tokens[0] || a.tokens[1] !== b.tokens[1]) lost++;
  }
  t.true(lost >= 1, 'the step matters');
});

test('extra files: whole documents ending in </s>, newest first within extraShare, the same with or without local text', (t) => {
  const extra = [
    { filename: 'old.js', text: source.slice(0, 2000) }, // too big for a quarter of the budget: left out
    { filename: 'util.js', text: 'export const one = 1;\n' },
    { filename: 'notes.txt', text: 'remember the milk\n' },
  ];
  const p = buildInfillPrompt(tok, { prefix: 'let x = ', suffix: ';\n', extra }, opts(512));
  const doc = (name: string, lang: string, text: string) => [
    ...tok.encode(`<| file lang=${lang} path=${name} |>\n${text}`),
    tok.layout.eos,
  ];
  const expected = [...doc('util.js', 'javascript', extra[1].text), ...doc('notes.txt', 'text', extra[2].text)];
  t.deepEqual(p.tokens.slice(0, expected.length), expected);
  t.deepEqual(p.parts.extraFiles, { kept: 2, total: 3, tokens: expected.length });
  const warm = buildInfillPrompt(tok, { prefix: '', suffix: '', extra }, opts(512));
  t.deepEqual(warm.tokens.slice(0, expected.length), expected, 'a warm-up request caches the same extra section');
  const full = buildInfillPrompt(tok, { prefix: source, suffix: source, extra }, opts(512));
  t.deepEqual(full.tokens.slice(0, expected.length), expected);
  t.is(full.tokens.length, 512 - 32);
});

test('single-line mode stops at a newline; left-to-right is header + prefix only', (t) => {
  const single = buildInfillPrompt(tok, { prefix: 'a', suffix: 'b' }, opts(64, { mode: 'single-line' }));
  t.deepEqual(single.stopStrings, ['\n']);
  t.is(tok.decode(single.tokens), 'a<mask:0>b<mask:1><mask:0>');
  const ltr = buildInfillPrompt(
    tok,
    { prefix: 'function f() {', suffix: 'ignored', path: 'f.js' },
    opts(128, { mode: 'left-to-right' }),
  );
  t.is(tok.decode(ltr.tokens), '<| file lang=javascript path=f.js |>\nfunction f() {');
  t.deepEqual(ltr.parts.suffix, { kept: 0, total: 0 });
});

test('bad inputs are named errors', (t) => {
  errCode(
    t,
    () => buildInfillPrompt(tok, { prefix: '', suffix: '' }, opts(64)),
    'PROMPT_EMPTY',
    /prefix and suffix are empty/,
  );
  errCode(
    t,
    () => buildInfillPrompt(tok, { prefix: '', suffix: 'x' }, opts(64, { mode: 'left-to-right' })),
    'PROMPT_EMPTY',
    /prefix is empty/,
  );
  errCode(
    t,
    () => buildInfillPrompt(tok, { prefix: 'a', suffix: 'b', path: 'x.js' }, opts(40)),
    'PROMPT_TOO_LONG',
    /context 40 − maxNewTokens 32 leaves 8 prompt tokens/,
  );
  errCode(
    t,
    () => buildInfillPrompt(tok, { prefix: 'a', suffix: 'b' }, opts(64, { prefixShare: 2 })),
    'CONFIG_BAD_VALUE',
    /options\.prefixShare must be in \[0, 1\]/,
  );
  errCode(
    t,
    () => buildInfillPrompt(tok, { prefix: 'a', suffix: 'b' }, opts(64, { mode: 'sideways' as never })),
    'CONFIG_BAD_VALUE',
    /options\.mode/,
  );
  errCode(
    t,
    () => buildInfillPrompt(tok, { prefix: 'a', suffix: 'b', language: 'bad lang' }, opts(64)),
    'CONFIG_BAD_VALUE',
    /language "bad lang"/,
  );
});
