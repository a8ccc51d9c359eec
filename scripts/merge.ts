// `npm run merge -- --out DIR SHARD_DIR...`: join the shard folders of a sharded preprocessing run
// (`npm run preprocess -- --shard I/N`) into one folder, checking they agree (src/pipeline/merge.ts).
import { parseCommandLine, runMain, type CommandSpec } from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import { mergeShards } from '../src/pipeline/index.js';

const spec: CommandSpec = {
  usage: 'npm run merge -- --out DIR SHARD_DIR... [--link] [--allow-partial]',
  summary:
    'Shard folders of one `preprocess --shard I/N` run → one folder: the tokenizer, vocabulary and configuration\n' +
    'must agree; train/valid .bin/.idx are concatenated (Megatron merge_datasets.py semantics), sidecars and domain\n' +
    "maps merged, documents repeated across shards dropped (with the run's --dedup), manifests summed.",
  positionals: true,
  flags: {
    out: { type: 'string', arg: 'DIR', help: 'merged output folder' },
    link: {
      type: 'boolean',
      help: "copy no tokens: list the shards' files in DIR/megatron-blend.json and the manifest (no cross-shard dedup)",
    },
    'allow-partial': { type: 'boolean', help: 'merge although some shards 0..N-1 are not given' },
    quiet: { type: 'boolean', help: 'no log lines' },
  },
  epilog:
    'Output: DIR/{train,valid}-00000.{bin,idx,docs.jsonl}, DIR/manifest.json, DIR/vocab.json, DIR/tokenizer.model,\n' +
    'DIR/skipped.jsonl, DIR/dedup.bin, DIR/megatron-blend.json (for Megatron-LM --per-split-data-args-path).',
};

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  if (typeof values.out !== 'string') throw new HyperlmError('CLI_BAD_FLAG', '--out DIR is required');
  if (positionals.length === 0)
    throw new HyperlmError('CLI_BAD_FLAG', 'give the shard folders to merge (e.g. out/crawl/shard-*)');
  const quiet = Boolean(values.quiet);
  const m = await mergeShards({
    out: values.out,
    shards: positionals,
    link: Boolean(values.link),
    allowPartial: Boolean(values['allow-partial']),
    log: quiet ? undefined : (l) => console.error(l),
  });
  console.log(
    `${values.out}: ${m.documents.out}/${m.documents.in} documents (train ${m.documents.train}, valid ${m.documents.valid}) from ${positionals.length} shards, ` +
      `${m.tokens.total} tokens; skipped ${JSON.stringify(m.skipped)}`,
  );
});
