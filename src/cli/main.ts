#!/usr/bin/env node
// The `hyperlm` command (package.json "bin"): `hyperlm SUBCOMMAND [flags]` runs the same entry point as
// `npm run SUBCOMMAND -- [flags]` (scripts/*.ts), with the same flags and --help, so an installed package
// and a checkout behave alike. The table is explicit (no discovery by file name); a test checks that it
// names every npm script that runs a script of scripts/.

import { fileURLToPath, pathToFileURL } from 'node:url';

/** Subcommand → script in dist/scripts and a one-line summary. */
export const SUBCOMMANDS: Readonly<Record<string, { script: string; summary: string }>> = {
  preprocess: { script: 'preprocess', summary: 'pages, crawls and code → minimized HTML → tokens → Megatron shards' },
  merge: { script: 'merge', summary: 'merge the folders of a sharded preprocess run' },
  'train-tokenizer': { script: 'train-tokenizer', summary: 'train the SentencePiece BPE tokenizer on HTML and code' },
  inspect: { script: 'inspect', summary: 'print a preprocessed document back as text, with its tokens and images' },
  train: { script: 'train', summary: 'train a GPT / MoE model on preprocessed shards (CM3 objective)' },
  generate: { script: 'generate', summary: 'continue a prompt with a trained run or bundle' },
  eval: { script: 'eval', summary: 'zero-shot evaluation on task files beside baselines' },
  serve: { script: 'serve', summary: 'infill server for editors (llama.cpp, OpenAI and Ollama protocols)' },
  experts: { script: 'experts', summary: 'add or remove DEMix domain experts' },
  'train:vqgan': { script: 'train-vqgan', summary: 'train the ViT-VQGAN image tokenizer' },
  'vqgan:reconstruct': { script: 'vqgan-reconstruct', summary: 'encode and decode images with a VQGAN, side by side' },
  'vqgan:eval': { script: 'vqgan-eval', summary: 'reconstruction quality of a VQGAN on held-out images' },
  'build-corpus': {
    script: 'build-corpus',
    summary: 'build the large training corpus from pinned npm and Debian packages',
  },
  'bench:preprocess': { script: 'bench-preprocess', summary: 'preprocessing throughput benchmark' },
  'bench:tokenizer': { script: 'bench-tokenizer', summary: 'tokenizer training and encoding benchmark' },
  'bench:kernels': { script: 'bench-kernels', summary: 'WASM kernel GFLOP/s benchmark' },
  'bench:train': {
    script: 'bench-train',
    summary: 'training and decoding speed benchmark (with PyTorch when present)',
  },
  'bench:vqgan': { script: 'bench-vqgan', summary: 'VQGAN training and encoding speed benchmark' },
  'bench:eval': { script: 'bench-eval', summary: 'evaluation harness speed benchmark' },
  'bench:serve': { script: 'bench-serve', summary: 'infill server latency benchmark' },
};

function usage(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  const rows = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: hyperlm SUBCOMMAND [flags]   (hyperlm SUBCOMMAND --help for its flags)',
    '',
    'Subcommands:',
    ...rows,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return;
  }
  const command = SUBCOMMANDS[name];
  if (!command) {
    process.stderr.write(`error [CLI_BAD_FLAG]: unknown subcommand ${JSON.stringify(name)}\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  const script = fileURLToPath(new URL(`../../scripts/${command.script}.js`, import.meta.url));
  process.argv = [process.argv[0], script, ...rest]; // the script parses process.argv.slice(2), as under npm run
  process.env.HYPERLM_CLI = '1'; // help texts then read `hyperlm X` for `npm run X --`
  await import(pathToFileURL(script).href);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]))
  await main();
