// The language model's inference bundle (the twin of src/vqgan/bundle.ts): a training run's latest weights
// as float16 safetensors beside the run's config, tokenizer and vocabulary, plus its loss curve and metrics
// so a bundle says how it was made. `loadRun` reads a bundle as it reads a run; `npm run train -- --init
// BUNDLE` fine-tunes from one. Layout:
//   BUNDLE/config.json  the run config (model, train, data) + bundle: { from, step, dtype: "F16" }
//   BUNDLE/model.safetensors  F16 weights by HF GPT-2 name; __metadata__ {config, step}
//   BUNDLE/tokenizer.model, vocab.json, loss.png, metrics.jsonl  copied from the run

import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic-file.js';
import { decodeSafetensors, encodeSafetensors, latestCheckpoint } from '../train/index.js';

/** Writes BUNDLE from RUN's latest checkpoint; returns the weight file's size and the step. */
export async function exportModelBundle(runDir: string, outDir: string): Promise<{ bytes: number; step: number }> {
  const ckpt = await latestCheckpoint(runDir);
  if (!ckpt) throw new HyperlmError('INPUT_NOT_FOUND', `${runDir}: no checkpoint to export (checkpoints/latest.json)`);
  const config = JSON.parse(await readFile(join(runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const weightsPath = join(ckpt, 'model.safetensors');
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(weightsPath)), weightsPath);
  const step = Number.parseInt(metadata.step ?? '0', 10);
  const half = new Map([...tensors].map(([name, t]) => [name, { ...t, dtype: 'F16' as const }]));
  await mkdir(outDir, { recursive: true });
  const bytes = encodeSafetensors(half, {
    config: metadata.config ?? JSON.stringify(config.model),
    step: String(step),
  });
  await writeFileAtomic(join(outDir, 'model.safetensors'), bytes);
  await writeJsonAtomic(join(outDir, 'config.json'), { ...config, bundle: { from: runDir, step, dtype: 'F16' } });
  for (const [file, required] of [
    ['tokenizer.model', true],
    ['vocab.json', true],
    ['loss.png', false],
    ['metrics.jsonl', false],
  ] as const) {
    const src = join(runDir, file);
    if (
      !(await stat(src).then(
        () => true,
        () => false,
      ))
    ) {
      if (required) throw new HyperlmError('INPUT_NOT_FOUND', `${src}: missing (a bundle needs the run's ${file})`);
      continue;
    }
    await copyFile(src, join(outDir, file));
  }
  return { bytes: bytes.length, step };
}
