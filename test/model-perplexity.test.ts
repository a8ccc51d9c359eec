// Per-domain validation perplexity (src/model/perplexity.ts) against GPT.loss: scoring the same rows one
// at a time with the model's own weighted loss, grouped by each row's domain, gives the same per-domain
// losses and token counts; left to right scores no sentinel; a folder without a valid split is a named error.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { GPT } from '../src/model/gpt.js';
import { ShardLoader } from '../src/model/loader.js';
import { domainPerplexity } from '../src/model/perplexity.js';
import { evaluate } from '../src/model/train.js';
import { readDataInfo } from '../src/model/data-info.js';
import { resolveRunConfig } from '../src/model/train-config.js';
import { CM3_DEFAULTS } from '../src/tokenize/cm3.js';
import { tempDir } from './helpers/fixtures.js';
import { writeSyntheticData } from './helpers/train-shards.js';

let dataDir: string;
let model: GPT;

test.before(async () => {
  await selectBackend('wasm');
  dataDir = (await writeSyntheticData(tempDir('ppl-data'), { train: 10, valid: 24 })).dir;
  const config = await resolveRunConfig('tiny', [], await readDataInfo(dataDir));
  model = new GPT(config.model, 5);
});

/** The reference: every row through GPT.loss alone, summed per domain id. */
async function reference(
  objective: 'cm3' | 'ltr',
  rows: number,
): Promise<Map<number, { loss: number; tokens: number; rows: number }>> {
  const T = model.config.blockSize;
  const cm3 = { ...CM3_DEFAULTS, ltrFraction: objective === 'ltr' ? 1 : 0 };
  const loader = await ShardLoader.open(dataDir, {
    split: 'valid',
    blockSize: T,
    seed: 0,
    byDomain: true,
    domainOf: (d) => d,
    cm3,
    shuffle: false,
  });
  const out = new Map<number, { loss: number; tokens: number; rows: number }>();
  for (let i = 0; i < rows; i++) {
    const row = await loader.nextRow();
    if (row.epoch > 0) break;
    const w = row.weight.reduce((a, x) => a + x, 0);
    const ce = tf.tidy(() =>
      model
        .loss(
          tf.tensor2d(row.input, [1, T], 'int32'),
          tf.tensor2d(row.target, [1, T], 'int32'),
          tf.tensor2d(row.weight, [1, T]),
        )
        .ce.arraySync(),
    );
    const s = out.get(row.domain) ?? { loss: 0, tokens: 0, rows: 0 };
    s.rows++;
    s.loss += ce * w;
    s.tokens += w;
    out.set(row.domain, s);
  }
  await loader.close();
  return out;
}

for (const objective of ['cm3', 'ltr'] as const) {
  test.serial(`${objective}: per-domain losses equal GPT.loss on the same rows, grouped by domain`, async (t) => {
    const report = await domainPerplexity(model, dataDir, objective, { rows: 1000, batchSize: 3, seed: 0 });
    const ref = await reference(objective, 1000);
    t.deepEqual(
      report.domains.map((d) => d.domain),
      ['site-a', 'site-b'],
    );
    let total = 0;
    for (const [id, s] of ref) {
      const got = report.domains[id];
      t.is(got.tokens, s.tokens);
      t.true(Math.abs(got.loss - s.loss / s.tokens) < 1e-4, `${got.domain}: ${got.loss} vs ${s.loss / s.tokens}`);
      t.true(Math.abs(got.ppl - Math.exp(got.loss)) < 1e-9 * got.ppl);
      total += s.tokens;
    }
    t.is(report.all.tokens, total);
    t.true(report.all.loss > 0 && Number.isFinite(report.all.loss));
  });
}

/** Loss and token sums over every domain of a reference. */
const summed = (ref: Map<number, { loss: number; tokens: number }>) =>
  [...ref.values()].reduce((a, s) => ({ loss: a.loss + s.loss, tokens: a.tokens + s.tokens }), { loss: 0, tokens: 0 });

test.serial(
  "training's evaluate scores the whole valid split with its last partial batch, or its first batches",
  async (t) => {
    const ref = await reference('cm3', 1000);
    const rows = [...ref.values()].reduce((a, s) => a + s.rows, 0);
    const batchSize = [3, 4, 5, 6, 7].find((b) => rows % b !== 0)!;
    const open = () =>
      ShardLoader.open(dataDir, {
        split: 'valid',
        blockSize: model.config.blockSize,
        seed: 0,
        byDomain: true,
        domainOf: (d) => d,
        cm3: { ...CM3_DEFAULTS, ltrFraction: 0 },
        shuffle: false,
      });
    const sum = summed(ref);
    const loader = await open();
    const whole = await evaluate(model, loader, 1000, batchSize);
    t.true(Math.abs(whole - sum.loss / sum.tokens) < 1e-4, `${whole} vs ${sum.loss / sum.tokens} over ${rows} rows`);
    t.is(await evaluate(model, loader, 1000, batchSize), whole, 'the same rows every call');
    const first = await reference('cm3', batchSize); // the first batch's rows
    const f = summed(first);
    t.true(Math.abs((await evaluate(model, loader, 1, batchSize)) - f.loss / f.tokens) < 1e-4);
    await loader.close();
  },
);

test.serial('left to right scores every token of every valid document once, but the first of each row', async (t) => {
  const { docs } = await writeSyntheticData(tempDir('ppl-docs'), { train: 10, valid: 24 }); // same seed: same documents
  const ltr = await domainPerplexity(model, dataDir, 'ltr', { rows: 1000, batchSize: 4, seed: 0 });
  const ref = await reference('ltr', 1000);
  for (const [id, s] of ref) {
    const inDomain = docs.valid.filter((d) => d.domain === id).reduce((a, d) => a + d.tokens.length + 1, 0); // + eos
    t.is(ltr.domains[id].tokens, inDomain - s.rows, ltr.domains[id].domain);
  }
});

test.serial('rows caps the work, and a folder without a valid split is a named error', async (t) => {
  const few = await domainPerplexity(model, dataDir, 'ltr', { rows: 2, batchSize: 4, seed: 0 });
  const all = await domainPerplexity(model, dataDir, 'ltr', { rows: 1000, batchSize: 4, seed: 0 });
  t.true(few.all.tokens < all.all.tokens);
  const noValid = (await writeSyntheticData(tempDir('ppl-novalid'), { train: 4, valid: 0 })).dir;
  await t.throwsAsync(domainPerplexity(model, noValid, 'ltr', { rows: 4, batchSize: 2, seed: 0 }), {
    message: /no valid documents/,
  });
});
