// The run-folder kit both trainers share: checkpoint folders with latest.json, the guard against training
// over an existing run, the metrics log a resume truncates, the worker-count rule and batch slicing.
import { mkdtempSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { HyperlmError } from '../src/errors.js';
import {
  MetricsLog,
  checkpointDue,
  existingCheckpoint,
  latestCheckpoint,
  sliceRanges,
  workerCount,
  writeCheckpointDir,
} from '../src/train/index.js';

test('checkpoint folders: latest.json names the newest, older ones beyond `keep` are removed, and a run with checkpoints needs resume', async (t) => {
  const run = mkdtempSync(join(tmpdir(), 'hyperlm-run-'));
  t.is(await latestCheckpoint(run), undefined);
  t.is(await existingCheckpoint(run, false), undefined);
  for (const step of [10, 20, 30]) await writeCheckpointDir(run, step, { 'state.json': JSON.stringify({ step }) }, 2);
  t.is(await latestCheckpoint(run), join(run, 'checkpoints', 'step-000030'));
  t.deepEqual((await readdir(join(run, 'checkpoints'))).sort(), ['latest.json', 'step-000020', 'step-000030']);
  const err = await t.throwsAsync(existingCheckpoint(run, false), { instanceOf: HyperlmError });
  t.is(err?.code, 'RUN_HAS_CHECKPOINTS');
  t.regex(err?.message ?? '', /--resume/);
  t.is(await existingCheckpoint(run, true), join(run, 'checkpoints', 'step-000030'));
});

test('MetricsLog: reopening at a checkpoint step drops the later lines, appends after them', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'hyperlm-metrics-')), 'metrics.jsonl');
  const log = await MetricsLog.open(path, 0);
  for (let step = 1; step <= 5; step++) await log.append({ step, loss: 10 - step });
  await log.append({ step: 5, valLoss: 4.5 });
  const resumed = await MetricsLog.open(path, 3);
  t.deepEqual(
    resumed.history.map((h) => h.step),
    [1, 2, 3],
  );
  await resumed.append({ step: 4, loss: 1 });
  t.deepEqual(
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).step),
    [1, 2, 3, 4],
  );
});

test('worker count is capped at one per batch row and logged; checkpoints fall on the cadence, the end and interrupts', (t) => {
  const lines: string[] = [];
  t.is(
    workerCount(4, 2, 'row', (l) => lines.push(l)),
    2,
  );
  t.is(
    workerCount(undefined, 8, 'row', (l) => lines.push(l)),
    1,
  );
  t.is(lines.length, 1);
  t.regex(lines[0], /4 requested, using 2/);
  t.deepEqual(
    [1, 2, 3, 4, 5].map((s) => checkpointDue(s, 5, 2, false)),
    [false, true, false, true, true],
  );
  t.true(checkpointDue(3, 5, 2, true));
});

test('sliceRanges covers the batch in order with sizes differing by at most one', (t) => {
  for (const [rows, n] of [
    [8, 2],
    [7, 3],
    [3, 3],
    [10, 4],
  ]) {
    const r = sliceRanges(rows, n);
    t.is(r.length, n);
    t.is(r[0][0], 0);
    t.is(r[n - 1][1], rows);
    for (let i = 1; i < n; i++) t.is(r[i][0], r[i - 1][1]);
    const sizes = r.map(([lo, hi]) => hi - lo);
    t.true(Math.max(...sizes) - Math.min(...sizes) <= 1);
  }
});
