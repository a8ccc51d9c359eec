// Builds a DocumentContext from plain data, so that a worker thread and the in-process path (tests,
// `--workers 0`) construct exactly the same thing.
import type { PreprocessConfig } from './config.js';
import type { DocumentContext } from './process-document.js';
import { resolveMinimizeOptions } from '../tokenize/minimize-config.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import { loadImageTokenizer } from '../vqgan/load.js';

/** Everything a worker needs, as structured-clonable data (passed as piscina's workerData). */
export interface WorkerInit {
  config: PreprocessConfig;
  /** Path of tokenizer.model; absent in the tokenizer-training pass. */
  tokenizerPath?: string;
}

export async function createContext(init: WorkerInit): Promise<DocumentContext> {
  const { config } = init;
  const tokenizer = init.tokenizerPath ? await Tokenizer.load(init.tokenizerPath, { imageCodes: config.imageCodes }) : undefined;
  const imageTokenizer = config.images === 'vqgan' && init.tokenizerPath ? await loadImageTokenizer(config.vqgan!) : undefined;
  return {
    config,
    minimize: resolveMinimizeOptions({ imageSlots: config.images !== 'none', minTextRatio: config.minTextRatio }),
    tokenizer,
    imageTokenizer,
    imageCache: new Map(),
  };
}
