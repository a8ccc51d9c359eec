// runCodeInfill over the serve branch's prompt builder, on a random-init GPT: the prompt is the builder's,
// greedy single-line is multi-line cut at its first newline (same prompt, one more stop string),
// left-to-right leaves out the suffix, the completion is the generated tokens before the stop, and the
// builder's named errors come through.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { generate } from '../src/model/index.js';
import { buildInfillPrompt, INFILL_DEFAULTS, runCodeInfill } from '../src/prompts/index.js';
import { promptTokenizer, randomModel } from './helpers/prompt-model.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const input = { prefix: 'function add(a, b) {\n  return ', suffix: ';\n}\n', path: 'src/add.js' };

test("runCodeInfill: the builder's prompt, three modes, completion before the stop", async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, { initStd: 0.3 }, 4);
  const target = { model, tokenizer };
  const multi = await runCodeInfill(target, input, { maxNewTokens: 24 });
  const prompt = buildInfillPrompt(tokenizer, input, { ...INFILL_DEFAULTS, contextTokens: 128, maxNewTokens: 24 });
  t.is(multi.promptTokens, prompt.tokens.length);
  t.is(multi.mode, 'multi-line');
  // the completion is the greedy continuation of the builder's tokens, up to its stop token
  const direct = generate(model, [prompt.tokens], { maxNewTokens: 24, stopTokens: prompt.stopTokens }).tokens[0];
  const stopAt = direct.findIndex((id) => prompt.stopTokens.includes(id));
  const middle = stopAt < 0 ? direct : direct.slice(0, stopAt);
  t.is(multi.completion, tokenizer.decode(middle.filter((id) => id < tokenizer.layout.imageBase)));
  t.is(multi.generatedTokens, direct.length);
  t.is(multi.finish, stopAt < 0 ? 'length' : 'stop-token');

  const single = await runCodeInfill(target, input, { maxNewTokens: 24, mode: 'single-line' });
  t.is(single.promptTokens, multi.promptTokens);
  t.false(single.completion.includes('\n'));
  t.is(
    single.completion,
    multi.completion.includes('\n') ? multi.completion.slice(0, multi.completion.indexOf('\n')) : multi.completion,
  );
  if (single.finish === 'stop-string') t.is(single.stopString, '\n');

  const ltr = await runCodeInfill(target, input, { maxNewTokens: 8, mode: 'left-to-right' });
  t.is(ltr.mode, 'left-to-right');
  t.is(
    ltr.promptTokens,
    buildInfillPrompt(tokenizer, input, {
      ...INFILL_DEFAULTS,
      mode: 'left-to-right',
      contextTokens: 128,
      maxNewTokens: 8,
    }).tokens.length,
  );
  t.true(ltr.promptTokens < multi.promptTokens, 'no suffix and no sentinels');
  t.true(ltr.generatedTokens >= 1 && ltr.generatedTokens <= 8);
  // an extra stop string applies in any mode
  const cut = await runCodeInfill(target, input, {
    maxNewTokens: 24,
    stopStrings: [multi.completion.slice(1, 3) || 'zz'],
  });
  t.true(cut.completion.length <= multi.completion.length);
  model.dispose();
});

test('runCodeInfill: truncation and named errors from the builder', async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, {}, 2);
  const long = { prefix: 'let x = 1;\n'.repeat(60), suffix: 'console.log(x);\n'.repeat(60), path: 'a.js' };
  const r = await runCodeInfill({ model, tokenizer }, long, { maxNewTokens: 8 });
  t.true(r.truncated);
  t.true(r.promptTokens <= 128 - 8);
  t.true(r.parts.prefix.kept > r.parts.suffix.kept, 'the prefix gets the larger share');
  await t.throwsAsync(runCodeInfill({ model, tokenizer }, { prefix: '', suffix: '' }), {
    code: 'PROMPT_EMPTY',
  } as never);
  await t.throwsAsync(runCodeInfill({ model, tokenizer }, input, { maxNewTokens: 127 }), {
    code: 'PROMPT_TOO_LONG',
  } as never);
  model.dispose();
});
