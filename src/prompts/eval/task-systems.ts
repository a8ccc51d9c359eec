// The systems evaluated on each task, in table order: the model's variants (model-systems.ts, when a model
// is loaded) and the task's baselines — summarize: first heading, lead-10; caption: heading before the
// image, file name; infill: the Kneser–Ney 4-gram (when its training data is known) and repeat-the-
// previous-line; image_gen: none (no text baseline makes an image). One place decides the line-up, so the
// script and the tests evaluate the same systems.

import { assertNever } from '../../errors.js';
import type { EvalSystem } from './runner.js';
import type { EvalTask, InfillRow, TaskRows } from './task-files.js';
import { captionBaselines, PageCache, repeatLineBaseline, summarizeBaselines } from './text-baselines.js';

export interface SystemSources<T extends EvalTask> {
  /** The model's systems for this task (empty: baselines only). */
  model?: ReadonlyArray<EvalSystem<TaskRows[T]>>;
  /** The n-gram infill baseline (ngram-baseline.ts); infill tasks only. */
  ngram?: EvalSystem<InfillRow>;
  pages?: PageCache;
}

export function baselineSystems<T extends EvalTask>(
  task: T,
  sources: SystemSources<T> = {},
): Array<EvalSystem<TaskRows[T]>> {
  const pages = sources.pages ?? new PageCache();
  switch (task) {
    case 'summarize':
      return summarizeBaselines(pages) as Array<EvalSystem<TaskRows[T]>>;
    case 'caption':
      return captionBaselines(pages) as Array<EvalSystem<TaskRows[T]>>;
    case 'infill_line':
    case 'infill_span':
      return [...(sources.ngram ? [sources.ngram] : []), repeatLineBaseline()] as Array<EvalSystem<TaskRows[T]>>;
    case 'image_gen':
      return [];
    default:
      return assertNever(task, 'task');
  }
}

/** Model systems first, then the baselines. */
export function taskSystems<T extends EvalTask>(
  task: T,
  sources: SystemSources<T> = {},
): Array<EvalSystem<TaskRows[T]>> {
  return [...(sources.model ?? []), ...baselineSystems(task, sources)];
}
