import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { Progress } from '../src/io/progress.js';

/** A non-TTY stream that keeps what is written. */
function sink(): { stream: NodeJS.WriteStream; lines: string[] } {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) > 0 } as unknown as NodeJS.WriteStream;
  return { stream, lines };
}

const seconds = (line: string, field: string): number => {
  const m = new RegExp(`${field} ([\\d.]+)s`).exec(line);
  if (!m) throw new Error(`no ${field} in ${line}`);
  return Number(m[1]);
};

test('the ETA of a resumed job uses only the units done by this process', async (t) => {
  const fresh = sink(),
    resumed = sink();
  const a = new Progress({ label: 'x', total: 100, stream: fresh.stream });
  const b = new Progress({ label: 'x', total: 100, startAt: 50, stream: resumed.stream });
  await sleep(1000);
  a.update(60);
  b.update(60);
  // fresh: 60 units in ~1 s → 40 more in ~0.67 s; resumed: 10 units in ~1 s → 40 more in ~4 s.
  const elapsed = seconds(resumed.lines[0], 'elapsed');
  t.true(Math.abs(seconds(fresh.lines[0], 'eta') - (elapsed * 40) / 60) < 0.2, fresh.lines[0]);
  t.true(Math.abs(seconds(resumed.lines[0], 'eta') - elapsed * 4) < 0.3, resumed.lines[0]);
  t.regex(resumed.lines[0], /60\.0%/);
});
