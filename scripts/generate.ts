// `npm run generate`: load a training run or an inference bundle (src/model/load-run.ts: config, latest
// checkpoint, its own tokenizer copy), encode the prompt and sample a continuation with
// src/model/generate.ts (KV cache).
import { selectBackend } from '../src/backend/index.js';
import {
  backendFlag,
  COMMON_FLAGS,
  numberFlag,
  parseCommandLine,
  runMain,
  type CommandSpec,
} from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import { defaultRunDir, generate, loadRun } from '../src/model/index.js';

const spec: CommandSpec = {
  usage: 'npm run generate -- [--run RUN|BUNDLE] --prompt TEXT [options]',
  summary: "Continue a prompt with a trained run (latest checkpoint, the run's tokenizer).",
  flags: {
    run: {
      type: 'string',
      arg: 'RUN',
      help: 'training run folder or inference bundle',
      default: 'data/model if present, else the newest run in runs/',
    },
    prompt: { type: 'string', arg: 'TEXT', help: 'text (or minimized HTML) to continue' },
    'max-tokens': { type: 'string', arg: 'N', help: 'tokens to generate', default: '64' },
    temperature: { type: 'string', arg: 'T', help: 'sampling temperature (0 = greedy)', default: '0.8' },
    'top-k': { type: 'string', arg: 'K', help: 'sample among the K most likely tokens (0 = off)', default: '40' },
    'top-p': { type: 'string', arg: 'P', help: 'nucleus sampling mass (1 = off)', default: '0.95' },
    greedy: { type: 'boolean', help: 'always take the most likely token' },
    seed: { type: 'string', arg: 'N', help: 'sampling seed', default: '0' },
    backend: COMMON_FLAGS.backend,
  },
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  if (typeof values.prompt !== 'string') throw new HyperlmError('CLI_BAD_FLAG', '--prompt TEXT is required');
  await selectBackend(backendFlag(values), (l) => console.error(l));
  const runDir = typeof values.run === 'string' ? values.run : await defaultRunDir();
  if (runDir === undefined)
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      'no model: no --run, no data/model and no run with a checkpoint in runs/',
    );
  const { model, tokenizer, config, step } = await loadRun(runDir);
  const prompt = tokenizer.encode(values.prompt);
  if (prompt.length === 0) throw new HyperlmError('CLI_BAD_FLAG', '--prompt encodes to no tokens');
  const maxNew = numberFlag(values, 'max-tokens', 64, { integer: true, min: 1 });
  const ids = prompt.slice(-Math.max(1, config.blockSize - maxNew));
  if (ids.length < prompt.length)
    console.error(`prompt truncated to its last ${ids.length} tokens (blockSize ${config.blockSize})`);
  const greedy = Boolean(values.greedy);
  const t0 = performance.now();
  const out = generate(model, [ids], {
    maxNewTokens: Math.min(maxNew, config.blockSize - ids.length),
    temperature: greedy ? 0 : numberFlag(values, 'temperature', 0.8, { min: 0 }),
    topK: numberFlag(values, 'top-k', 40, { integer: true, min: 0 }),
    topP: numberFlag(values, 'top-p', 0.95, { min: 0, max: 1 }),
    stopTokens: [tokenizer.layout.eos],
    padToken: tokenizer.layout.pad,
    seed: numberFlag(values, 'seed', 0, { integer: true }),
  });
  const ms = performance.now() - t0;
  process.stdout.write(values.prompt + tokenizer.decode(out.tokens[0]) + '\n');
  console.error(
    `step ${step} of ${runDir}: ${out.tokens[0].length} tokens in ${ms.toFixed(0)} ms (${(ms / Math.max(1, out.tokens[0].length)).toFixed(1)} ms/token)`,
  );
  model.dispose();
});
