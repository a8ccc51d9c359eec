// Checkpoints and DEMix expert surgery (src/model/checkpoint.ts, src/model/experts.ts): the weights and
// AdamW moments are safetensors that an independent numpy reader loads to the same values; `experts add`
// copies the expert with the lowest loss on the new domain, `--train-only-expert` changes only that
// expert, and `experts remove` drops one and renumbers the rest.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { latestCheckpoint } from '../src/train/index.js';
import { addExpert, removeExpert } from '../src/model/experts.js';
import { GPT } from '../src/model/gpt.js';
import { readDataInfo } from '../src/model/loader.js';
import { AdamW } from '../src/train/optimizer.js';
import { resolveRunConfig, resolveTrainConfig } from '../src/model/train-config.js';
import { readRunConfig, train } from '../src/model/train.js';
import { tempDir } from './helpers/fixtures.js';
import { writeSyntheticData } from './helpers/train-shards.js';

// An independent reader: the safetensors layout (u64 header length, JSON header, raw little-endian data).
const NUMPY_READER = `
import json, struct, sys
import numpy as np
out = {}
for path in sys.argv[1:]:
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    for name, h in header.items():
        if name == '__metadata__':
            continue
        a, b = h['data_offsets']
        arr = np.frombuffer(data[a:b], dtype={'F32': '<f4', 'I32': '<i4'}[h['dtype']]).reshape(h['shape'])
        out[name] = {'shape': list(arr.shape), 'sum': float(arr.astype(np.float64).sum()), 'first': float(arr.flat[0]) if arr.size else 0.0}
print(json.dumps(out))
`;

test.before(async () => {
  await selectBackend('wasm');
});

const sumOf = (d: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i];
  return s;
};

test.serial('checkpoint weights and optimizer moments are readable by numpy with the same values', async (t) => {
  const data = await writeSyntheticData(tempDir('ck-data'));
  const runDir = tempDir('ck-run');
  const config = await resolveRunConfig(
    'tiny',
    ['steps=2', 'batchSize=2', 'evalEvery=0', 'checkpointEvery=2'],
    await readDataInfo(data.dir),
  );
  await train({ runDir, config });
  const ck = (await latestCheckpoint(runDir))!;
  const script = join(tempDir('py'), 'read.py');
  writeFileSync(script, NUMPY_READER);
  const py = JSON.parse(
    execFileSync('python3', [script, join(ck, 'model.safetensors'), join(ck, 'optimizer.safetensors')], {
      encoding: 'utf8',
    }),
  ) as Record<string, { shape: number[]; sum: number; first: number }>;
  const model = new GPT(config.model, 99);
  const opt = new AdamW(config.train.optim);
  await loadCheckpoint(ck, model, opt);
  t.is(Object.keys(py).length, model.params().size * 3, 'every parameter plus its m and v');
  for (const [name, v] of model.params()) {
    const d = v.dataSync();
    t.deepEqual(py[name].shape, v.shape, name);
    t.is(py[name].first, d[0], name);
    t.true(Math.abs(py[name].sum - sumOf(d)) < 1e-3 * (1 + Math.abs(py[name].sum)), name);
  }
  for (const [name, m] of opt.stateTensors()) t.is(py[name].first, m.data[0], name);
  model.dispose();
  opt.dispose();
});

test.serial('DEMix: add copies the best expert, --train-only-expert trains only it, remove renumbers', async (t) => {
  const data = await writeSyntheticData(tempDir('demix-data'), { domains: 3 });
  const runDir = tempDir('demix-run');
  const config = await resolveRunConfig(
    'tiny',
    [
      'moe.router=demix',
      'moe.experts=2',
      'moe.domains=site-a,site-b',
      'steps=3',
      'batchSize=2',
      'evalEvery=0',
      'checkpointEvery=3',
      'evalBatches=2',
    ],
    await readDataInfo(data.dir),
  );
  await train({ runDir, config });
  const before = new GPT(config.model, 0);
  await loadCheckpoint((await latestCheckpoint(runDir))!, before);

  const added = await addExpert(runDir, 'site-c');
  t.is(added.expert, 2);
  t.is(added.losses.length, 2);
  t.is(added.copiedFrom, added.losses.indexOf(Math.min(...added.losses)));
  const grown = await readRunConfig(runDir);
  t.deepEqual(grown.model.moe.domains, ['site-a', 'site-b', 'site-c']);
  const after = new GPT(grown.model, 0);
  await loadCheckpoint((await latestCheckpoint(runDir))!, after);
  const w = (m: GPT, name: string): number[] => [...m.params().get(name)!.dataSync()];
  const e = (k: number): string => `transformer.h.1.mlp.experts.${k}.c_fc.weight`;
  t.deepEqual(w(after, e(2)), w(before, e(added.copiedFrom)), 'the new expert starts as a copy');
  t.deepEqual(w(after, e(0)), w(before, e(0)));

  grown.train = resolveTrainConfig(grown.train, { steps: 5, trainOnlyExpert: 2 });
  await train({ runDir, config: grown, resume: true });
  const trained = new GPT(grown.model, 0);
  await loadCheckpoint((await latestCheckpoint(runDir))!, trained);
  t.notDeepEqual(w(trained, e(2)), w(after, e(2)), 'expert 2 was trained');
  for (const name of after.params().keys()) {
    if (!name.includes('.experts.2.')) t.deepEqual(w(trained, name), w(after, name), `${name} is frozen`);
  }

  await removeExpert(runDir, 'site-a');
  const shrunk = await readRunConfig(runDir);
  t.deepEqual(shrunk.model.moe.domains, ['site-b', 'site-c']);
  const removed = new GPT(shrunk.model, 0);
  await loadCheckpoint((await latestCheckpoint(runDir))!, removed);
  t.deepEqual(w(removed, e(1)), w(trained, e(2)), 'later experts shift down');
  t.false(removed.params().has(e(2)));
  for (const m of [before, after, trained, removed]) m.dispose();
});
