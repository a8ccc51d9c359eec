// Loads a trained image tokenizer from a VQGAN run folder, for `preprocess --images vqgan --vqgan RUN`.
import { HyperlmError } from '../errors.js';
import type { ImageTokenizer } from './image-tokenizer.js';

export async function loadImageTokenizer(run: string): Promise<ImageTokenizer> {
  throw new HyperlmError('INPUT_NOT_FOUND', `--vqgan ${run}: loading VQGAN runs is not implemented yet`);
}
