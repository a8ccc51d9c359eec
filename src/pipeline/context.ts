// Builds a DocumentContext (per-worker state, after datatrove's pipeline-step setup and Megatron
// preprocess_data.py's Encoder.initializer) from plain data, so that a worker thread and the in-process
// path (tests, `--workers 0`) construct exactly the same thing. With `images: 'vqgan'` it also holds the
// image tokenizer: the tfjs backend is selected in this thread (a worker starts on tfjs's pure-JS
// default) and the weights load once per thread. Unlike those, heavy modules (tfjs, the VQGAN, the
// language detector) are imported only when the configuration needs them: they dominate worker start-up.
import type { PreprocessConfig } from './config.js';
import type { DocumentContext } from './process-document.js';
import { HyperlmError } from '../errors.js';
import { resolveMinimizeOptions } from '../minimize/minimize-config.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import type { ImageTokenizer } from '../vqgan/image-tokenizer.js';
import { loadLanguageDetector } from '../filter/language.js';

/** Everything a worker needs, as structured-clonable data (passed as piscina's workerData). */
export interface WorkerInit {
  config: PreprocessConfig;
  /** Path of tokenizer.model; absent in the tokenizer-training pass. */
  tokenizerPath?: string;
}

/**
 * The image tokenizer for `config` (undefined unless images is 'vqgan'), checked against the vocabulary:
 * its codebook must fill the vocabulary's image block exactly (config.imageCodes), or codes would
 * collide with other ids or leave ids no image can produce.
 */
export async function loadConfiguredImageTokenizer(config: PreprocessConfig): Promise<ImageTokenizer | undefined> {
  if (config.images !== 'vqgan') return undefined;
  if (!config.vqgan) throw new HyperlmError('CONFIG_BAD_VALUE', 'images "vqgan" needs config.vqgan (--vqgan RUN)');
  const { selectBackend } = await import('../backend/index.js');
  const { loadImageTokenizer } = await import('../vqgan/load.js');
  await selectBackend('auto');
  const tok = await loadImageTokenizer(config.vqgan);
  if (tok.codebookSize !== config.imageCodes) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `--vqgan ${config.vqgan} has a codebook of ${tok.codebookSize} codes but the vocabulary's image block (imageCodes, --image-codes) is ${config.imageCodes}; they must be equal`,
    );
  }
  return tok;
}

export async function createContext(init: WorkerInit): Promise<DocumentContext> {
  const { config } = init;
  // encodeOnly: a worker never decodes, so sentencepiece-js is not loaded (the main thread loaded and checked the model).
  const tokenizer = init.tokenizerPath
    ? await Tokenizer.load(init.tokenizerPath, { imageCodes: config.imageCodes, encodeOnly: true })
    : undefined;
  const imageTokenizer = init.tokenizerPath ? await loadConfiguredImageTokenizer(config) : undefined;
  // The language detector is loaded for pass 2 only, and only with a language filter (its load is a large part of a worker's start-up).
  const detectLanguage = init.tokenizerPath && config.languages !== 'all' ? await loadLanguageDetector() : undefined;
  return {
    config,
    minimize: resolveMinimizeOptions({ imageSlots: config.images !== 'none', minTextRatio: config.minTextRatio }),
    tokenizer,
    imageTokenizer,
    imageCache: new Map(),
    detectLanguage,
  };
}
