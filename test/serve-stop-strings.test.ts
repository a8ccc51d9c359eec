// The incremental stop-string matcher (src/model/stop-strings.ts): hand-worked cases across piece boundaries
// (what is released, what is held back, what is cut), then random texts, stop sets and splits against a brute
// force that cuts the whole text at the earliest occurrence (ties: the longer string).
import test from 'ava';
import { StopStringMatcher } from '../src/model/stop-strings.js';
import { Rng } from '../src/rng.js';

function run(pieces: string[], stops: string[]): { released: string[]; text: string; stop?: string } {
  const m = new StopStringMatcher(stops);
  const released: string[] = [];
  let stop: string | undefined;
  for (const p of pieces) {
    const r = m.push(p);
    released.push(r.text);
    if (r.stop !== undefined) {
      stop = r.stop;
      break;
    }
  }
  if (stop === undefined) {
    const r = m.flush();
    released.push(r.text);
    stop = r.stop;
  }
  return { released, text: released.join(''), stop };
}

/** The reference: cut the whole text at the earliest stop occurrence (at one position, the longest string). */
function bruteForce(text: string, stops: string[]): { text: string; stop?: string } {
  for (let i = 0; i < text.length; i++) {
    const hits = stops.filter((s) => s.length > 0 && text.startsWith(s, i)).sort((a, b) => b.length - a.length);
    if (hits.length > 0) return { text: text.slice(0, i), stop: hits[0] };
  }
  return { text };
}

test('a stop string split over three pieces is cut, and nothing of it is released on the way', (t) => {
  const r = run(['let x = 1;</', 'e', 'nd>tail'], ['</end>']);
  t.deepEqual(r.released, ['let x = 1;', '', '']);
  t.is(r.stop, '</end>');
});

test('a held-back partial match that turns out not to be a stop is released with the next piece', (t) => {
  const r = run(['a <', '/e', 'x> b'], ['</end>']);
  t.deepEqual(r.released, ['a ', '', '</ex> b', '']);
  t.is(r.stop, undefined);
});

test('the held-back tail is released at the end of the stream', (t) => {
  t.deepEqual(run(['done\n', '``'], ['```']).released, ['done\n', '', '``']);
});

test('a later full match waits for an earlier stop string that is still arriving', (t) => {
  // "b" matches at 1, but "abc" could start at 0: the brute force on the whole text picks "abc"
  t.deepEqual(run(['ab', 'c'], ['abc', 'b']), { released: ['', ''], text: '', stop: 'abc' });
  t.deepEqual(run(['ab', 'x'], ['abc', 'b']), { released: ['', 'a'], text: 'a', stop: 'b' });
  t.deepEqual(run(['ab'], ['abc', 'b']), { released: ['', 'a'], text: 'a', stop: 'b' });
});

test('a newline stop (single-line mode) cuts at the first newline; empty stop strings are ignored', (t) => {
  t.deepEqual(run(['foo(', 'bar)\n  baz'], ['\n', '']), { released: ['foo(', 'bar)'], text: 'foo(bar)', stop: '\n' });
  t.deepEqual(run(['x', 'y'], ['']), { released: ['x', 'y', ''], text: 'xy', stop: undefined });
});

test('random texts, stop sets and splits give exactly the brute-force cut', (t) => {
  const rng = Rng.fromSeed(5);
  const alphabet = 'ab\n<>/';
  const word = (n: number) => Array.from({ length: n }, () => alphabet[rng.int(alphabet.length)]).join('');
  for (let trial = 0; trial < 2000; trial++) {
    const text = word(rng.int(30));
    const stops = Array.from({ length: 1 + rng.int(3) }, () => word(1 + rng.int(4)));
    const pieces: string[] = [];
    for (let i = 0; i < text.length;) {
      const n = 1 + rng.int(5);
      pieces.push(text.slice(i, i + n));
      i += n;
    }
    const got = run(pieces, stops);
    const want = bruteForce(text, stops);
    if (got.text !== want.text || got.stop !== want.stop) {
      t.fail(
        `text ${JSON.stringify(text)} pieces ${JSON.stringify(pieces)} stops ${JSON.stringify(stops)}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`,
      );
      return;
    }
  }
  t.pass();
});
