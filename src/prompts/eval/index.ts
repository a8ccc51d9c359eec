// The evaluation harness's public surface: task-file readers, the runner and its Predictor/MetricSuite
// types, the baselines, each task's metrics and systems, `evaluate`, the summary table and run lookup.
export {
  EVAL_TASKS,
  readTaskFile,
  validateRow,
  defaultTaskFile,
  type EvalTask,
  type TaskRows,
  type SummarizeRow,
  type CaptionRow,
  type InfillRow,
} from './task-files.js';
export {
  runTask,
  truncateMiddle,
  tolerant,
  type Prediction,
  type Predictor,
  type EvalSystem,
  type MetricSuite,
  type CorpusScores,
  type ResultRecord,
  type SystemResult,
  type SystemSummary,
} from './runner.js';
export {
  pageOutline,
  firstWords,
  humanizeFileName,
  collapseWhitespace,
  type PageOutline,
  type PageImage,
} from './page-outline.js';
export {
  PageCache,
  LEAD_WORDS,
  summarizeBaselines,
  captionBaselines,
  repeatLineBaseline,
  previousLine,
} from './text-baselines.js';
export { metricSuite, SUMMARIZE_METRICS, CAPTION_METRICS, INFILL_METRICS, IMAGE_GEN_METRICS } from './metric-suites.js';
export { taskSystems, baselineSystems, type SystemSources } from './task-systems.js';
export { evaluate, selectRows, referenceOf, type EvaluateOptions, type EvaluateResult } from './evaluate.js';
export { summaryTable, formatTextTable, formatMarkdownTable, type SummaryTable } from './summary-table.js';
export { defaultRunDir, runDataDir } from './run-dirs.js';
export { EvalModel, MODEL_SYSTEM_DEFAULTS, type ModelSystemOptions } from './model-systems.js';
export {
  ngramSystem,
  ngramPredictor,
  pieceKinds,
  firstLines,
  NGRAM_BASELINE_DEFAULTS,
  type NgramBaselineOptions,
} from './ngram-baseline.js';
export { infillSystems, INFILL_SYSTEM_DEFAULTS, type InfillSystemOptions } from './infill-systems.js';
