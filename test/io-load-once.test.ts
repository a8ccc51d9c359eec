// LoadOnce (src/io/load-once.ts): one load per key however many callers ask at once, and a failed load
// is forgotten so the next call loads again.
import test from 'ava';
import { LoadOnce } from '../src/io/index.js';

test('concurrent callers under one key share one load; other keys load separately', async (t) => {
  const cache = new LoadOnce<string>();
  const calls: string[] = [];
  const load = (key: string) => () => {
    calls.push(key);
    return new Promise<string>((r) => setImmediate(() => r(`value of ${key}`)));
  };
  const [a, b, c] = await Promise.all([
    cache.get('a', load('a')),
    cache.get('a', load('a')),
    cache.get('b', load('b')),
  ]);
  t.deepEqual([a, b, c], ['value of a', 'value of a', 'value of b']);
  t.deepEqual(await cache.get('a', load('a')), 'value of a');
  t.deepEqual(calls, ['a', 'b']);
});

test('a failed load is not kept: the next call under that key loads again', async (t) => {
  const cache = new LoadOnce<number>();
  let calls = 0;
  const load = () => {
    calls++;
    return calls === 1 ? Promise.reject(new Error('disk said no')) : Promise.resolve(42);
  };
  await t.throwsAsync(cache.get('k', load), { message: 'disk said no' });
  t.is(await cache.get('k', load), 42);
  t.is(await cache.get('k', load), 42);
  t.is(calls, 2);
});
