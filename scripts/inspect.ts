// `npm run inspect -- DIR --doc N [--split valid]`: prints a stored document back as HTML/code.
import { join } from 'node:path';
import { parseCommandLine, numberFlag, choiceFlag, runMain, type CommandSpec } from '../src/cli/args.js';
import { HyperlmError } from '../src/errors.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import { readManifest, readStoredDocument } from '../src/pipeline/read-document.js';

const spec: CommandSpec = {
  usage: 'npm run inspect -- DIR [--doc N] [--split train|valid] [--tokens] [--masked]',
  summary: 'Prints document N of a preprocessed folder back as text (HTML or code), with its sidecar record.\n' +
    'Without --doc, prints the manifest summary.',
  positionals: true,
  flags: {
    doc: { type: 'string', arg: 'N', help: 'document index within the split' },
    split: { type: 'string', arg: 'train|valid', help: 'which split', default: 'train' },
    tokens: { type: 'boolean', help: 'also print the token ids and pieces' },
    masked: { type: 'boolean', help: 'show the CM3-masked form as stored (for --cm3-static data)' },
  },
};

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  if (positionals.length !== 1) throw new HyperlmError('CLI_BAD_FLAG', `expected one folder (DIR), got ${positionals.length}: ${positionals.join(' ')}`);
  const dir = positionals[0];
  const manifest = await readManifest(dir);
  if (values.doc === undefined) {
    const { documents, tokens, skipped, images, shards } = manifest;
    console.log(JSON.stringify({ documents, tokens, skipped, images, shards: shards.map((s) => `${s.name} (${s.documents} docs)`) }, null, 2));
    return;
  }
  const tokenizer = await Tokenizer.load(join(dir, 'tokenizer.model'), { imageCodes: (manifest.config.imageCodes as number | undefined) ?? 8192 });
  const doc = await readStoredDocument(dir, choiceFlag(values, 'split', ['train', 'valid'] as const, 'train'), numberFlag(values, 'doc', 0, { integer: true, min: 0 }), tokenizer);
  const ids = values.masked ? doc.tokens : doc.original;
  process.stderr.write(`# ${doc.shard} ${JSON.stringify(doc.meta)} — ${ids.length} tokens\n`);
  process.stdout.write(tokenizer.decode(ids) + '\n');
  if (values.tokens) {
    process.stdout.write('\n' + Array.from(ids, (id) => `${id}:${JSON.stringify(tokenizer.idToPiece(id))}`).join(' ') + '\n');
  }
});
