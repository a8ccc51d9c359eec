// Model config resolution: presets, typed overrides, --set parsing, and errors that name the key.
import test from 'ava';
import { HyperlmError } from '../src/errors.js';
import { isMoELayer, modelPresets, parseSetArgs, resolveModelConfig } from '../src/model/index.js';

test('every preset resolves and cm3-125m has the GPU shape', (t) => {
  for (const name of Object.keys(modelPresets)) t.notThrows(() => resolveModelConfig(name));
  const c = resolveModelConfig('cm3-125m');
  t.deepEqual([c.dModel, c.nLayer, c.nHead, c.dFF, c.blockSize, c.moe.experts], [768, 12, 12, 3072, 2048, 8]);
  t.is(resolveModelConfig('dense-small').moe.every, 0);
  t.is(resolveModelConfig('moe-small').moe.every, 2);
});

test('overrides merge by dotted path and --set strings are parsed by type', (t) => {
  const c = resolveModelConfig(
    'tiny',
    parseSetArgs(['moe.experts=8', 'tieEmbeddings=false', 'positions=learned', 'moe.router=top2', 'vocabSize=77']),
  );
  t.is(c.moe.experts, 8);
  t.is(c.tieEmbeddings, false);
  t.is(c.positions, 'learned');
  t.is(c.moe.router, 'top2');
  t.is(c.vocabSize, 77);
  t.is(c.moe.capacityFactor, 1.25);
  const nested = resolveModelConfig('tiny', { moe: { zLossWeight: 0 }, dModel: 64 });
  t.is(nested.moe.zLossWeight, 0);
  t.is(nested.moe.experts, 4);
  t.is(modelPresets.tiny.moe.zLossWeight, 1e-3, 'presets are not mutated');
  t.true(isMoELayer(c, 1));
  t.false(isMoELayer(c, 0));
});

test('unknown keys and wrong types are HyperlmErrors naming the key', (t) => {
  const unknown = t.throws(() => resolveModelConfig('tiny', { 'moe.expertz': 3 }), { instanceOf: HyperlmError });
  t.is((unknown as HyperlmError).code, 'CONFIG_UNKNOWN_KEY');
  t.regex(unknown!.message, /moe\.expertz/);
  const badType = t.throws(() => resolveModelConfig('tiny', parseSetArgs(['moe.experts=many'])), {
    instanceOf: HyperlmError,
  });
  t.is((badType as HyperlmError).code, 'CONFIG_BAD_VALUE');
  t.regex(badType!.message, /moe\.experts/);
  t.throws(() => resolveModelConfig('tiny', { positions: 'alibi' }), { message: /positions/ });
  t.throws(() => resolveModelConfig('tiny', { dModel: 30, nHead: 4 }), { message: /dModel/ });
  t.throws(() => resolveModelConfig('nope'), { message: /nope/ });
  t.throws(() => parseSetArgs(['novalue']), { instanceOf: HyperlmError });
});
