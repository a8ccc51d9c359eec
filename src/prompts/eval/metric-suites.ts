// Which metrics each task reports (issue 8), wired from src/prompts/metrics: summarize → ROUGE-1/2/L F1
// (rouge-score tokenization, Porter-stemmed); caption → BLEU-4, CIDEr-D and ROUGE-L; infill → exact match
// and edit similarity; image_gen → only what the model system reports itself (its own score, PSNR/SSIM).
// BLEU-4 in the summary is corpus BLEU (statistics summed over the items, unsmoothed, as every caption
// table reports it); the per-item value in the records is smoothed sentence BLEU. CIDEr-D needs the whole
// reference set for its document frequencies, so it is computed once per system over all items.

import { assertNever } from '../../errors.js';
import { bleuCorpus, bleuSentence, ciderD, editSimilarity, exactMatch, rouge } from '../metrics/index.js';
import type { MetricSuite } from './runner.js';
import type { EvalTask } from './task-files.js';

export const SUMMARIZE_METRICS: MetricSuite = {
  names: ['rouge1', 'rouge2', 'rougeL'],
  item(prediction, reference) {
    const r = rouge(prediction, reference);
    return { rouge1: r.rouge1.f1, rouge2: r.rouge2.f1, rougeL: r.rougeL.f1 };
  },
};

export const CAPTION_METRICS: MetricSuite = {
  names: ['bleu4', 'ciderD', 'rougeL'],
  item(prediction, reference) {
    return { bleu4: bleuSentence(prediction, reference).bleu, rougeL: rouge(prediction, reference).rougeL.f1 };
  },
  corpus(predictions, references) {
    const cider = ciderD(predictions, references);
    return {
      perItem: { ciderD: cider.perItem },
      corpus: { bleu4: bleuCorpus(predictions, references).bleu, ciderD: cider.cider },
    };
  },
};

/**
 * Exact match is CodeXGLUE's whitespace-token equality; edit similarity compares both sides with their
 * surrounding whitespace stripped (CodeXGLUE's line-completion evaluator strips both before scoring), so a
 * missing final newline or the first line's indentation does not count against a prediction.
 */
export const INFILL_METRICS: MetricSuite = {
  names: ['exactMatch', 'editSim'],
  item(prediction, reference) {
    return {
      exactMatch: exactMatch(prediction, reference),
      editSim: editSimilarity(prediction.trim(), reference.trim()),
    };
  },
};

export const IMAGE_GEN_METRICS: MetricSuite = { names: [], item: () => ({}) };

export function metricSuite(task: EvalTask): MetricSuite {
  switch (task) {
    case 'summarize':
      return SUMMARIZE_METRICS;
    case 'caption':
      return CAPTION_METRICS;
    case 'infill_line':
    case 'infill_span':
      return INFILL_METRICS;
    case 'image_gen':
      return IMAGE_GEN_METRICS;
    default:
      return assertNever(task, 'task');
  }
}
