// Task files: the sample reads with absolute paths, and every kind of bad row is an EVAL_BAD_TASK error
// naming the file, the line and the field. The page outline (what the text baselines read) is checked
// against the task builder's own count of each page's visible text (`body_text_chars`), an independent
// implementation of the same definition.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import { readTaskFile } from '../src/prompts/eval/task-files.js';
import { pageOutline, firstWords, humanizeFileName } from '../src/prompts/eval/page-outline.js';
import { PageCache, previousLine } from '../src/prompts/eval/text-baselines.js';
import { REPO, tempDir } from './helpers/fixtures.js';

const ROOT = join(REPO, 'test/fixtures/eval-sample');
const GOOD = {
  id: 'sum-0001',
  file: 'html/sqlite3-doc/releaselog/3_6_16_1.html',
  title: 'A title here',
  body_text_chars: 12,
};

test('the sample task files read, with paths resolved against the root', async (t) => {
  const rows = await readTaskFile('summarize', join(ROOT, 'tasks/summarize.jsonl'), ROOT);
  t.is(rows.length, 4);
  t.true(rows.every((r) => r.file.startsWith(ROOT) && r.title.length > 0));
  const caps = await readTaskFile('caption', join(ROOT, 'tasks/caption.jsonl'), ROOT);
  t.deepEqual(
    caps.map((r) => r.id),
    ['cap-0043', 'cap-0142', 'cap-0300'],
  );
  t.true(caps.every((r) => r.img_file.startsWith(ROOT)));
  const lines = await readTaskFile('infill_line', join(ROOT, 'tasks/infill_line.jsonl'), ROOT);
  t.true(lines.every((r) => r.middle.endsWith('\n')));
});

async function badFile(
  t: import('ava').ExecutionContext,
  lines: string[],
  pattern: RegExp,
  task: 'summarize' | 'infill_line' = 'summarize',
) {
  const path = join(tempDir('tasks'), 'bad.jsonl');
  writeFileSync(path, lines.join('\n') + '\n');
  const err = await t.throwsAsync(readTaskFile(task, path, ROOT), { instanceOf: HyperlmError });
  t.is(err?.code, 'EVAL_BAD_TASK');
  t.true(err!.message.startsWith(path), err?.message);
  t.regex(err!.message, pattern);
}

test('a missing field names the line and the field', (t) =>
  badFile(
    t,
    [JSON.stringify(GOOD), JSON.stringify({ ...GOOD, id: 'sum-0002', title: undefined })],
    /:2: field "title" is missing/,
  ));

test('a wrong type names the field and the value', (t) =>
  badFile(
    t,
    [JSON.stringify({ ...GOOD, body_text_chars: '12' })],
    /:1: field "body_text_chars" must be an integer ≥ 0, got "12"/,
  ));

test('an empty target is refused', (t) =>
  badFile(t, [JSON.stringify({ ...GOOD, title: '  ' })], /:1: field "title" must not be empty/));

test('a value outside an enumeration names the choices', (t) =>
  badFile(
    t,
    [
      JSON.stringify({
        id: 'line-1',
        file: 'code/mocha-12.0.3/lib/pending.js',
        prefix: '',
        middle: 'x\n',
        suffix: '',
        language: 'python',
      }),
    ],
    /:1: field "language" must be one of javascript\|typescript, got "python"/,
    'infill_line',
  ));

test('a path that leaves the root is refused', (t) =>
  badFile(t, [JSON.stringify({ ...GOOD, file: '../../etc/passwd' })], /field "file" leaves the root/));

test('a path to a missing file is refused', (t) =>
  badFile(t, [JSON.stringify({ ...GOOD, file: 'html/nope.html' })], /field "file" names a file that does not exist/));

test('a repeated id names both lines', (t) =>
  badFile(t, [JSON.stringify(GOOD), '', JSON.stringify(GOOD)], /:3: field "id" "sum-0001" repeats line 1/));

test('a line that is not JSON, or not an object, is named', async (t) => {
  await badFile(t, [JSON.stringify(GOOD), '{"id": '], /:2: not valid JSON/);
  await badFile(t, ['[1, 2]'], /:1: the line is not a JSON object/);
});

test('an empty task file is an error, a missing one INPUT_NOT_FOUND', async (t) => {
  await badFile(t, [''], /no rows/);
  const err = await t.throwsAsync(readTaskFile('summarize', join(ROOT, 'tasks/none.jsonl'), ROOT), {
    instanceOf: HyperlmError,
  });
  t.is(err?.code, 'INPUT_NOT_FOUND');
});

test("page visible text matches the task builder's body_text_chars on every sample page", async (t) => {
  const rows = await readTaskFile('summarize', join(ROOT, 'tasks/summarize.jsonl'), ROOT);
  const pages = new PageCache();
  for (const row of rows) t.is((await pages.outline(row.file)).bodyText.length, row.body_text_chars, row.id);
});

test('page outline: headings in order, invisible text left out, images with the heading before them', (t) => {
  const o = pageOutline(`<html><head><title>T</title><style>h1{}</style></head><body><div>nav</div>
    <h1>First &amp; <em>main</em></h1><p>one two</p><script>var x = "<h2>no</h2>";</script><img src="a/b-c_d.png" alt="x">
    <h2> Second </h2><table><tr><td>a</td><td>b</td></tr></table><img src="e.png"></body></html>`);
  t.deepEqual(o.headings, ['First & main', 'Second']);
  t.is(o.bodyText, 'nav First & main one two Second a b');
  t.deepEqual(
    o.images.map((i) => [i.src, i.headingBefore]),
    [
      ['a/b-c_d.png', 'First & main'],
      ['e.png', 'Second'],
    ],
  );
  t.is(pageOutline('<p>no heading <img src="x.png"></p>').images[0].headingBefore, '');
});

test('file names as words, first words, previous line', (t) => {
  t.is(humanizeFileName('figures/basics_Account-Relationships.png'), 'basics Account Relationships');
  t.is(humanizeFileName('images/icons/zoom_out_24.png?v=2'), 'zoom out 24');
  t.is(humanizeFileName('my%20chart.v2.svg'), 'my chart v2');
  t.is(firstWords('  a b\nc d e f g h i j k l ', 10), 'a b c d e f g h i j');
  t.is(previousLine('function f() {\n  const a = 1;\n\n'), '  const a = 1;\n');
  t.is(previousLine('\n \n'), '');
});
