// `npm run inspect -- DIR --doc N [--split valid] [--images-out DIR2]`: prints a stored document back as
// HTML/code; with --images-out, also decodes its images' codes with the VQGAN named in the manifest.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCommandLine, numberFlag, choiceFlag, runMain, type CommandSpec } from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import { Tokenizer } from '../src/tokenize/index.js';
import { imageCodeRuns, readManifest, readStoredDocument } from '../src/pipeline/index.js';
import { selectBackend } from '../src/backend/index.js';
import { loadImageTokenizer, saveRgbPng } from '../src/vqgan/index.js';

const spec: CommandSpec = {
  usage: 'npm run inspect -- DIR [--doc N] [--split train|valid] [--tokens] [--masked] [--images-out DIR2]',
  summary:
    'Prints document N of a preprocessed folder back as text (HTML or code), with its sidecar record.\n' +
    'Without --doc, prints the manifest summary.',
  positionals: true,
  flags: {
    doc: { type: 'string', arg: 'N', help: 'document index within the split' },
    split: { type: 'string', arg: 'train|valid', help: 'which split', default: 'train' },
    tokens: { type: 'boolean', help: 'also print the token ids and pieces' },
    masked: { type: 'boolean', help: 'show the CM3-masked form as stored (for --cm3-static data)' },
    'images-out': { type: 'string', arg: 'DIR2', help: "decode the document's images back to DIR2/doc-N-image-K.png" },
    vqgan: { type: 'string', arg: 'RUN', help: 'VQGAN to decode with', default: 'the one in the manifest config' },
  },
};

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  if (positionals.length !== 1)
    throw new HyperlmError(
      'CLI_BAD_FLAG',
      `expected one folder (DIR), got ${positionals.length}: ${positionals.join(' ')}`,
    );
  const dir = positionals[0];
  const manifest = await readManifest(dir);
  if (values.doc === undefined) {
    const { documents, tokens, skipped, images, shards } = manifest;
    console.log(
      JSON.stringify(
        { documents, tokens, skipped, images, shards: shards.map((s) => `${s.name} (${s.documents} docs)`) },
        null,
        2,
      ),
    );
    return;
  }
  const tokenizer = await Tokenizer.load(join(dir, 'tokenizer.model'), {
    imageCodes: (manifest.config.imageCodes as number | undefined) ?? 8192,
  });
  const doc = await readStoredDocument(
    dir,
    choiceFlag(values, 'split', ['train', 'valid'] as const, 'train'),
    numberFlag(values, 'doc', 0, { integer: true, min: 0 }),
    tokenizer,
  );
  const ids = values.masked ? doc.tokens : doc.original;
  process.stderr.write(`# ${doc.shard} ${JSON.stringify(doc.meta)} — ${ids.length} tokens\n`);
  process.stdout.write(tokenizer.decode(ids) + '\n');
  const imagesOut = values['images-out'] as string | undefined;
  if (imagesOut !== undefined) {
    const runs = imageCodeRuns(doc.original, tokenizer.layout);
    const run = (values.vqgan as string | undefined) ?? (manifest.config.vqgan as string | undefined);
    if (runs.length > 0 && !run)
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `${dir} was preprocessed without a VQGAN (config.vqgan is unset); pass --vqgan RUN`,
      );
    if (runs.length > 0) {
      await selectBackend('auto');
      const tok = await loadImageTokenizer(run!);
      await mkdir(imagesOut, { recursive: true });
      const pixels = await tok.decode(runs);
      for (let k = 0; k < pixels.length; k++) {
        const file = join(imagesOut, `doc-${values.doc}-image-${k}.png`);
        await saveRgbPng(pixels[k], tok.resolution, file);
        process.stderr.write(`# wrote ${file} (${tok.resolution}×${tok.resolution}, ${runs[k].length} codes)\n`);
      }
    }
    process.stderr.write(`# ${runs.length} image(s) in document ${values.doc}\n`);
  }
  if (values.tokens) {
    process.stdout.write(
      '\n' + Array.from(ids, (id) => `${id}:${JSON.stringify(tokenizer.idToPiece(id))}`).join(' ') + '\n',
    );
  }
});
