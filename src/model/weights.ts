// A GPT's weights as one safetensors file (src/train/safetensors.ts), with the resolved model config as
// __metadata__.config, so a file names the architecture it belongs to. Checkpoints (checkpoint.ts) and
// inference bundles use it; names follow HF GPT-2 (`transformer.h.0.attn.c_attn.weight`).

import { readSafetensors, variablesToSafeTensors, writeSafetensors } from '../train/safetensors.js';
import type { GPT } from './gpt.js';

/** Write a model's weights with its resolved config (JSON) in __metadata__.config. */
export async function saveGPT(model: GPT, path: string, metadata: Record<string, string> = {}): Promise<void> {
  await writeSafetensors(path, variablesToSafeTensors(model.params()), {
    ...metadata,
    config: JSON.stringify(model.config),
  });
}

/** Load weights saved by saveGPT into a model built from a matching config. */
export async function loadGPTWeights(model: GPT, path: string): Promise<Record<string, string>> {
  const { tensors, metadata } = await readSafetensors(path);
  model.loadWeights(tensors, path);
  return metadata;
}
