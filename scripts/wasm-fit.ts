// `node dist/scripts/wasm-fit.js --config cm3-125m --block 256,512,2048`: does a preset's training step
// fit the WASM backend's heap? For each block size, in a fresh child process (the heap never shrinks),
// build the model at batch 1, run one forward + backward (tf.variableGrads, as a training step does) and
// print the WASM heap's high-water mark and the seconds it took, or the failure. Every tensor of the
// WASM backend — weights, gradients, activations kept for backprop — lives in one wasm32 linear memory,
// whose maximum in tfjs-backend-wasm 4.22 is 4 GiB − 64 KiB (emscripten getHeapMax).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { parseCommandLine, runMain, type CommandSpec } from '../src/cli/index.js';
import { GPT, parseSetArgs, resolveModelConfig } from '../src/model/index.js';

const spec: CommandSpec = {
  usage: 'node dist/scripts/wasm-fit.js [--config NAME] [--block N,N…] [--vocab N] [--set key=value]...',
  summary: 'One batch-1 forward + backward per block size on the WASM backend: heap high-water mark and seconds.',
  flags: {
    config: { type: 'string', arg: 'NAME', help: 'model preset', default: 'cm3-125m' },
    block: { type: 'string', arg: 'N,N…', help: 'block sizes to try', default: '256,512,2048' },
    vocab: {
      type: 'string',
      arg: 'N',
      help: "vocabulary size (the data's)",
      default: '9192 (out/sample with a 1000-piece tokenizer)',
    },
    set: { type: 'string', multiple: true, arg: 'KEY=VALUE', help: 'model overrides (moe.every=0, dropout=0…)' },
    child: { type: 'string', arg: 'N', help: 'internal: measure block size N in this process' },
  },
};

async function measure(
  config: string,
  vocabSize: number,
  blockSize: number,
  sets: string[],
): Promise<Record<string, unknown>> {
  await selectBackend('wasm');
  const model = new GPT(resolveModelConfig(config, { ...parseSetArgs(sets), vocabSize, blockSize }), 1);
  const heapGiB = (): number =>
    (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length / 2 ** 30;
  const weights = heapGiB();
  const t0 = performance.now();
  try {
    const ids = tf.zeros([1, blockSize], 'int32') as tf.Tensor2D;
    const w = tf.ones([1, blockSize]) as tf.Tensor2D;
    const { value } = tf.variableGrads(
      () => model.loss(ids, ids, w, { training: true, domains: new Int32Array(1) }).loss as tf.Scalar,
    );
    await value.data();
    return {
      blockSize,
      params: model.numParams(),
      heapAfterInitGiB: +weights.toFixed(2),
      heapHighWaterGiB: +heapGiB().toFixed(2),
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
    };
  } catch (err) {
    return { blockSize, params: model.numParams(), failed: String(err).slice(0, 100), heapGiB: +heapGiB().toFixed(2) };
  }
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const config = (values.config as string | undefined) ?? 'cm3-125m';
  const vocab = Number(values.vocab ?? 9192);
  const sets = (values.set as string[] | undefined) ?? [];
  if (values.child !== undefined) {
    console.log(JSON.stringify(await measure(config, vocab, Number(values.child), sets)));
    return;
  }
  for (const block of String(values.block ?? '256,512,2048')
    .split(',')
    .map(Number)) {
    const args = [
      fileURLToPath(import.meta.url),
      '--config',
      config,
      '--vocab',
      String(vocab),
      '--child',
      String(block),
      ...sets.flatMap((s) => ['--set', s]),
    ];
    let line: string;
    try {
      line =
        execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
          .trim()
          .split('\n')
          .at(-1) ?? '';
    } catch (err) {
      line = JSON.stringify({ blockSize: block, failed: `child exited: ${(err as { status?: number }).status}` });
    }
    console.log(line);
  }
});
