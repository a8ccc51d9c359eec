// The prompt library's public surface: prompt parts and their encoding, candidate scoring with calibration,
// and one module per task — a pure prompt builder plus a typed run function each (title summarization,
// captioning, text → image and image infill, multiple choice, code infill — its prompt builder is the infill
// server's code-infill.ts). Metrics and baselines live in their own folders.
export { renderPrompt, encodePrompt, checkCodes, type PromptPart, type EncodedPrompt } from './prompt.js';
export {
  score,
  rank,
  candidateLogProbs,
  candidateDistribution,
  dcPmi,
  contextualCalibration,
  type ScoreOptions,
  type CandidateScore,
  type RankRule,
} from './score.js';
export {
  resolveTarget,
  decodeOptions,
  untilStop,
  spanStops,
  unescapeHtml,
  type PromptTarget,
  type ModelAndTokenizer,
  type DecodeOptions,
} from './target.js';
export {
  titlePrompt,
  splitMinimizedPage,
  runTitle,
  TITLE_PROMPT_DEFAULTS,
  type TitlePromptOptions,
  type TitlePrompt,
  type MinimizedPage,
  type TitleOptions,
  type TitleResult,
} from './title.js';
export {
  captionPromptMasked,
  captionPromptCausal,
  runCaption,
  type CaptionInput,
  type CaptionCandidate,
  type CaptionResult,
  type CaptionOptions,
} from './caption.js';
export {
  textToImagePrompt,
  altScoringPrompt,
  imageInfillPrompt,
  encodeImage,
  rgbToPng,
  runTextToImage,
  runImageInfill,
  type ImageOptions,
  type GeneratedImage,
  type TextToImageResult,
  type ImageInfillInput,
  type ImageInfillResult,
} from './image.js';
export {
  choicePrompt,
  runMultipleChoice,
  QUESTION_TEMPLATE,
  CONTENT_FREE_INPUTS,
  type ChoiceTemplate,
  type ChoiceOptions,
  type ChoiceResult,
} from './choice.js';
export { runCodeInfill, type CodeInfillOptions, type CodeInfillResult } from './code.js';
export {
  buildInfillPrompt,
  INFILL_DEFAULTS,
  type InfillMode,
  type InfillOptions,
  type InfillInput,
  type InfillFile,
  type InfillPrompt,
} from './code-infill.js';
