// Readers for the evaluation task files (JSON Lines, schema in ../shared/eval/tasks/README.md): one typed
// row per line, every field checked, and any fault reported as `FILE:LINE: field "x" …` so a broken task
// file is fixed in one look. Paths inside a row are relative to the dev-set root (`--root`); they are
// resolved here, and must stay inside the root. `image_gen` reads the caption file's rows (alt text →
// the image it describes). Unlike src/data/jsonl.ts (pages for training, bad lines counted and skipped),
// a task file is all-or-nothing: a bad row throws, since a silently shorter eval set is a wrong number.

import { access, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { HyperlmError } from '../../errors.js';

export const EVAL_TASKS = ['summarize', 'caption', 'infill_line', 'infill_span', 'image_gen'] as const;
export type EvalTask = (typeof EVAL_TASKS)[number];

export interface SummarizeRow {
  id: string;
  /** Absolute path of the HTML page. */
  file: string;
  title: string;
  body_text_chars: number;
}

export interface CaptionRow {
  id: string;
  page: string;
  img_src: string;
  img_file: string;
  alt: string;
  caption_source: 'alt' | 'figcaption' | 'figure-title';
  context_before: string;
}

export interface InfillRow {
  id: string;
  /** Absolute path of the source file. */
  file: string;
  /** `file` as written in the task file (relative to the root): the path the code-document header names. */
  path: string;
  prefix: string;
  middle: string;
  suffix: string;
  language: 'javascript' | 'typescript';
}

export interface TaskRows {
  summarize: SummarizeRow;
  caption: CaptionRow;
  infill_line: InfillRow;
  infill_span: InfillRow;
  image_gen: CaptionRow;
}

type Kind = 'string' | 'nonEmpty' | 'path' | 'count';

/** Each task's fields and how each is checked; `path` fields are resolved against the root. */
const SCHEMAS: Record<EvalTask, Record<string, Kind | readonly string[]>> = {
  summarize: { id: 'nonEmpty', file: 'path', title: 'nonEmpty', body_text_chars: 'count' },
  caption: {
    id: 'nonEmpty',
    page: 'path',
    img_src: 'nonEmpty',
    img_file: 'path',
    alt: 'nonEmpty',
    caption_source: ['alt', 'figcaption', 'figure-title'],
    context_before: 'string',
  },
  infill_line: {
    id: 'nonEmpty',
    file: 'path',
    prefix: 'string',
    middle: 'nonEmpty',
    suffix: 'string',
    language: ['javascript', 'typescript'],
  },
  infill_span: {
    id: 'nonEmpty',
    file: 'path',
    prefix: 'string',
    middle: 'nonEmpty',
    suffix: 'string',
    language: ['javascript', 'typescript'],
  },
  image_gen: {
    id: 'nonEmpty',
    page: 'path',
    img_src: 'nonEmpty',
    img_file: 'path',
    alt: 'nonEmpty',
    caption_source: ['alt', 'figcaption', 'figure-title'],
    context_before: 'string',
  },
};

function bad(where: string, message: string): never {
  throw new HyperlmError('EVAL_BAD_TASK', `${where}: ${message}`);
}

/** Checks one parsed row against the task's schema; returns it with its paths made absolute. */
export function validateRow<T extends EvalTask>(task: T, value: unknown, root: string, where: string): TaskRows[T] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(where, 'the line is not a JSON object');
  const row = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [field, kind] of Object.entries(SCHEMAS[task])) {
    const v = row[field];
    if (v === undefined) bad(where, `field "${field}" is missing`);
    if (Array.isArray(kind)) {
      if (!kind.includes(v as string))
        bad(where, `field "${field}" must be one of ${kind.join('|')}, got ${JSON.stringify(v)}`);
    } else if (kind === 'count') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
        bad(where, `field "${field}" must be an integer ≥ 0, got ${JSON.stringify(v)}`);
    } else {
      if (typeof v !== 'string') bad(where, `field "${field}" must be a string, got ${JSON.stringify(v)}`);
      if (kind !== 'string' && v.trim() === '') bad(where, `field "${field}" must not be empty`);
      if (kind === 'path') {
        if (isAbsolute(v)) bad(where, `field "${field}" must be relative to the root, got ${JSON.stringify(v)}`);
        const abs = resolve(root, v);
        const rel = relative(resolve(root), abs);
        if (rel.startsWith('..') || isAbsolute(rel))
          bad(where, `field "${field}" leaves the root ${root}: ${JSON.stringify(v)}`);
        out[field] = abs;
        if (field === 'file' && task.startsWith('infill')) out.path = v;
        continue;
      }
    }
    out[field] = v;
  }
  return out as unknown as TaskRows[T];
}

/** Reads and validates a whole task file; ids must be unique. */
export async function readTaskFile<T extends EvalTask>(
  task: T,
  path: string,
  root: string,
): Promise<Array<TaskRows[T]>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `task file ${path} cannot be read`, { cause: err });
  }
  const rows: Array<TaskRows[T]> = [];
  const ids = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      bad(where, `not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    const row = validateRow(task, value, root, where);
    for (const [field, kind] of Object.entries(SCHEMAS[task])) {
      const file = (row as unknown as Record<string, string>)[field];
      if (kind === 'path')
        await access(file).catch(() => bad(where, `field "${field}" names a file that does not exist: ${file}`));
    }
    const first = ids.get(row.id);
    if (first !== undefined) bad(where, `field "id" ${JSON.stringify(row.id)} repeats line ${first}`);
    ids.set(row.id, i + 1);
    rows.push(row);
  }
  if (rows.length === 0) bad(path, 'the task file has no rows');
  return rows;
}

/** The default task file of a task inside a dev-set root (image_gen reuses the captions). */
export function defaultTaskFile(task: EvalTask, root: string): string {
  return join(root, 'tasks', `${task === 'image_gen' ? 'caption' : task}.jsonl`);
}
