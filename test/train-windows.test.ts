// CM3 inside the training row, on real data: the bundled sample and a slice of ../shared/corpus/code,
// preprocessed here (small vocabulary, no images). Every <mask:i> in every row has its moved span in
// the same row (counted, 100%); each window un-masks exactly and a document's windows join back into
// the document as read by the independent inspect path (readStoredDocument); continuation windows repeat
// the code header; the left-to-right fraction and the Poisson span counts hold per window; static
// --cm3-window data gives the same guarantees and refuses another blockSize; a saved position taken in
// the middle of a document resumes the identical rows. Padding fractions are logged (README numbers).
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import test from 'ava';
import { HyperlmError } from '../src/errors.js';
import { ShardLoader, type LoaderOptions, type LoaderState, type Row } from '../src/model/loader.js';
import { preprocess } from '../src/pipeline/preprocess.js';
import { readStoredDocument } from '../src/pipeline/read-document.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import { REPO, SAMPLE, tempDir, tinyConfig, walk } from './helpers/fixtures.js';
import { documentsFromRows, rowTokens, rowWindows, type ParsedWindow } from './helpers/row-windows.js';

const CORPUS = join(REPO, '../shared/corpus/code');
const dirs: Record<'sample' | 'code' | 'static', string> = { sample: '', code: '', static: '' };
let tok: Tokenizer;
let codeTok: Tokenizer;

/** Every 12th JS/TS file of the corpus (about 100 files from every package), copied with its path. */
function corpusSlice(): string {
  const out = tempDir('corpus-slice');
  walk(CORPUS)
    .filter((f) => /\.(js|ts|mjs|cjs)$/.test(f))
    .filter((_, i) => i % 12 === 0)
    .forEach((f) => {
      const to = join(out, relative(CORPUS, f));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(f, to);
    });
  return out;
}

test.before(async () => {
  dirs.sample = tempDir('win-sample');
  await preprocess(tinyConfig([SAMPLE], dirs.sample, { images: 'none', validFraction: 0.1, shardDocs: 100 }));
  tok = await Tokenizer.load(join(dirs.sample, 'tokenizer.model'), { imageCodes: 8192 });
  dirs.static = tempDir('win-static');
  await preprocess(
    tinyConfig([SAMPLE], dirs.static, {
      images: 'none',
      validFraction: 0.1,
      shardDocs: 100,
      tokenizer: join(dirs.sample, 'tokenizer.model'),
      cm3Static: true,
      cm3Window: 128,
    }),
  );
  if (existsSync(CORPUS)) {
    dirs.code = tempDir('win-code');
    await preprocess(tinyConfig([corpusSlice()], dirs.code, { images: 'none', validFraction: 0.1, shardDocs: 100 }));
    codeTok = await Tokenizer.load(join(dirs.code, 'tokenizer.model'), { imageCodes: 8192 });
  }
});

const open = (dir: string, over: Partial<LoaderOptions> = {}): Promise<ShardLoader> =>
  ShardLoader.open(dir, { split: 'train', blockSize: 128, seed: 5, byDomain: false, shuffle: false, ...over });

async function epochRows(loader: ShardLoader, epochs = 1): Promise<Row[]> {
  const rows: Row[] = [];
  for (;;) {
    const r = await loader.nextRow();
    if (r.epoch >= epochs) return rows;
    rows.push(r);
  }
}

/**
 * Tokens of the code header line at the start of `first` (decoded independently of cm3-window.ts), or 0
 * when there is none or it is longer than a quarter of the row (README rule: such a header is not repeated).
 */
function headerOf(t: Tokenizer, blockSize = 128): (first: Int32Array) => number {
  return (first) => {
    if (!t.decode(first.subarray(0, 8)).trimStart().startsWith('<| file ')) return 0;
    for (let k = 1; k <= first.length; k++)
      if (t.decode(first.subarray(0, k)).includes('|>\n')) return k <= (blockSize + 1) / 4 ? k : 0;
    return 0;
  };
}

/** The 100% check: every row's windows parse (all holes matched in the row); returns the counts. */
function checkRows(
  t: import('ava').ExecutionContext,
  rows: Row[],
  loader: ShardLoader,
): { holes: number; windows: ParsedWindow[]; cut: number } {
  const L = loader.info.layout;
  const vocab = { maskBase: L.maskBase, maskCount: L.maskCount, eom: L.eom };
  let holes = 0;
  let masksInRows = 0;
  const windows: ParsedWindow[] = [];
  for (const r of rows) {
    const ws = rowWindows(r, vocab, L.pad, L.eos); // throws if a hole's span is not in this row
    const tokens = rowTokens(r, L.pad);
    masksInRows += tokens.filter((x) => x >= L.maskBase && x < L.maskBase + L.maskCount).length;
    for (const w of ws) holes += w.holes;
    windows.push(...ws);
    for (let p = 0; p < r.input.length; p++) {
      const target = r.target[p];
      const sentinel = target >= L.maskBase && target < L.maskBase + L.maskCount;
      if (r.weight[p] !== (sentinel || target === L.pad ? 0 : 1))
        t.fail(`weight ${r.weight[p]} at target ${target} (position ${p}, real ${r.real})`);
    }
  }
  const cut = windows.filter((w) => w.continues).length;
  // each hole appears twice (in the text and before its moved span), each cut window has one sentinel more
  t.is(
    masksInRows,
    2 * holes + cut,
    'every sentinel in the rows is a matched hole, its moved span or a continuation mark',
  );
  return { holes, windows, cut };
}

async function originals(dir: string, t0: Tokenizer, count: number): Promise<number[][]> {
  const out: number[][] = [];
  for (let n = 0; n < count; n++) out.push([...(await readStoredDocument(dir, 'train', n, t0)).original]);
  return out;
}

for (const name of ['sample', 'code'] as const) {
  const title = `${name}: every <mask:i> in every row has its span in the row, and the windows join back into the documents`;
  const register = name === 'code' && !existsSync(CORPUS) ? test.skip : test;
  register(title, async (t) => {
    const t0 = name === 'code' ? codeTok : tok;
    const loader = await open(dirs[name]);
    const rows = await epochRows(loader);
    const { holes, windows, cut } = checkRows(t, rows, loader);
    t.log(
      `${name}, blockSize 128: ${rows.length} rows, ${windows.length} windows (${cut} cut), ${holes} holes, ${holes} with their span in the same row (100%)`,
    );
    t.true(holes > 200 && cut > 50, `enough holes (${holes}) and cut windows (${cut}) to mean something`);
    const L = loader.info.layout;
    const docs = documentsFromRows(
      rows,
      { maskBase: L.maskBase, maskCount: L.maskCount, eom: L.eom },
      L.pad,
      L.eos,
      headerOf(t0),
    );
    t.deepEqual(docs, await originals(dirs[name], t0, loader.documentCount));
    await loader.close();
  });
}

(existsSync(CORPUS) ? test : test.skip)(
  "code: a continuation window starts with its file's header line, followed by code from the cut",
  async (t) => {
    const loader = await open(dirs.code, { blockSize: 512 });
    const rows = await epochRows(loader);
    const L = loader.info.layout;
    const vocab = { maskBase: L.maskBase, maskCount: L.maskCount, eom: L.eom };
    const count = headerOf(codeTok, 512);
    let header = '';
    let checked = 0;
    let previous: ParsedWindow | undefined;
    for (const r of rows) {
      for (const w of rowWindows(r, vocab, L.pad, L.eos)) {
        const text = codeTok.decode(w.tokens);
        if (!previous?.continues) header = count(w.tokens) > 0 ? text.slice(0, text.indexOf('|>\n') + 3) : '';
        else if (header === '') continue;
        else {
          t.true(
            text.startsWith(header) && header.startsWith('<| file lang='),
            `continuation window starts ${JSON.stringify(text.slice(0, 60))}`,
          );
          checked++;
        }
        previous = w;
      }
    }
    t.true(checked > 20, `${checked} continuation windows checked`);
    await loader.close();
  },
);

(existsSync(CORPUS) ? test : test.skip)(
  'per window: the left-to-right fraction and clamp(Poisson(1), 1, 16) span counts hold',
  async (t) => {
    const ltrFraction = 0.25;
    const loader = await open(dirs.code, {
      blockSize: 256,
      shuffle: true,
      cm3: { maxMasks: 16, lambda: 1, ltrFraction },
    });
    const rows = await epochRows(loader, 3);
    const { windows } = checkRows(t, rows, loader);
    // windows with ≥ 40 tokens: 33 boundaries allow 16 spans, so the draw is never reduced
    const big = windows.filter((w) => w.tokens.length >= 40);
    const N = big.length;
    const ltr = big.filter((w) => w.holes === 0).length / N;
    const seLtr = Math.sqrt((ltrFraction * (1 - ltrFraction)) / N);
    t.log(`${N} windows: left-to-right ${ltr.toFixed(4)} (expected ${ltrFraction} ± ${seLtr.toFixed(4)})`);
    t.true(Math.abs(ltr - ltrFraction) < 4 * seLtr);
    const counts = big.filter((w) => w.holes > 0).map((w) => w.holes);
    const pmf = (k: number): number => {
      let p = Math.exp(-1);
      for (let i = 1; i <= k; i++) p /= i;
      return p;
    };
    let mean = 0,
      second = 0;
    for (let k = 0; k < 40; k++) {
      const v = Math.min(Math.max(k, 1), 16);
      mean += v * pmf(k);
      second += v * v * pmf(k);
    }
    const se = Math.sqrt((second - mean * mean) / counts.length);
    const got = counts.reduce((a, b) => a + b, 0) / counts.length;
    t.log(
      `${counts.length} masked windows: mean spans ${got.toFixed(4)} vs exact ${mean.toFixed(4)} (se ${se.toFixed(4)})`,
    );
    t.true(Math.abs(got - mean) < 4 * se);
    const ones = counts.filter((c) => c === 1).length / counts.length;
    const pOne = 2 * Math.exp(-1);
    t.true(
      Math.abs(ones - pOne) < 4 * Math.sqrt((pOne * (1 - pOne)) / counts.length),
      `P(1 span) ${ones.toFixed(4)} vs ${pOne.toFixed(4)}`,
    );
    await loader.close();
  },
);

test('static --cm3-window data: the same 100% check, the same documents, no re-cut, and a blockSize mismatch is refused', async (t) => {
  const loader = await open(dirs.static);
  t.is(loader.packing, 'static-windows');
  const rows = await epochRows(loader);
  const { holes, cut } = checkRows(t, rows, loader);
  t.true(holes > 100 && cut > 20, `${holes} holes, ${cut} cut windows`);
  const L = loader.info.layout;
  const docs = documentsFromRows(
    rows,
    { maskBase: L.maskBase, maskCount: L.maskCount, eom: L.eom },
    L.pad,
    L.eos,
    headerOf(tok),
  );
  const plain = await originals(dirs.sample, tok, loader.documentCount);
  t.deepEqual(docs, plain, 'the windows join into the unmasked documents');
  t.deepEqual(await originals(dirs.static, tok, loader.documentCount), plain, 'inspect un-masks static windows too');
  const waste = 1 - rows.reduce((a, r) => a + r.real, 0) / (rows.length * 128);
  t.log(
    `static windows at blockSize 128: ${rows.length} rows, padding ${(100 * waste).toFixed(2)}% of input positions`,
  );
  await loader.close();
  const err = await t.throwsAsync(open(dirs.static, { blockSize: 64 }), { instanceOf: HyperlmError });
  t.is((err as HyperlmError).code, 'CM3_WINDOW_MISMATCH');
  t.regex(err!.message, /blockSize 128.*blockSize is 64/);
});

test('a position saved in the middle of a document resumes the identical rows', async (t) => {
  // a row is returned as soon as it closes, so partial rows are pending only per domain (DEMix)
  const wanted = [
    (s: LoaderState) => (s.window ?? 0) > 1,
    (s: LoaderState) => (s.window ?? 0) > 0 && Object.values(s.pending).some((p) => p.length > 0),
  ];
  for (const [k, want] of wanted.entries()) {
    const over = { shuffle: true, byDomain: k === 1 };
    const a = await open(dirs.sample, over);
    let state: LoaderState | undefined;
    for (let i = 0; i < 400 && !state; i++) {
      await a.nextRow();
      if (want(a.getState())) state = JSON.parse(JSON.stringify(a.getState())) as LoaderState;
    }
    t.truthy(state, 'found the position');
    const expected: Row[] = [];
    for (let i = 0; i < 30; i++) expected.push(await a.nextRow());
    const b = await open(dirs.sample, over);
    b.setState(state!);
    for (const e of expected) t.deepEqual(await b.nextRow(), e);
    await Promise.all([a.close(), b.close()]);
  }
});

test('padding: the fraction of input positions that are padding, at blockSize 512', async (t) => {
  for (const name of ['sample', 'code'] as const) {
    if (!dirs[name]) continue;
    const loader = await open(dirs[name], { blockSize: 512, shuffle: true });
    const rows = await epochRows(loader);
    const waste = 1 - rows.reduce((a, r) => a + r.real, 0) / (rows.length * 512);
    t.log(`${name}: ${rows.length} rows, padding ${(100 * waste).toFixed(2)}% of input positions`);
    t.true(waste < 0.05, `padding ${waste}`);
    await loader.close();
  }
});
