// Reads a document back out of a preprocessed folder: finds which shard of the split holds global
// document N (shards in manifest order), joins its sequences, drops the end-of-document token and, for
// statically masked data, undoes CM3 (window by window for --cm3-window data) — the inverse of the
// pipeline, for `npm run inspect` and tests. After Megatron's IndexedDataset reader (document index →
// sequence range); unlike it, it also reverses the minimizer's layout and CM3's masks back to text.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { IndexedDataset } from '../shards/megatron.js';
import { readSidecar, type SidecarRecord } from '../shards/sidecar.js';
import { cm3Inverse } from '../tokenize/cm3.js';
import { codeHeaderTokens, joinWindows } from '../tokenize/cm3-window.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import type { Manifest } from './manifest.js';
import type { Split } from './chunk.js';

export interface StoredDocument {
  shard: string;
  /** Token ids as stored (without the end-of-document token). */
  tokens: Int32Array;
  /** The same with CM3 masking undone (equal to `tokens` unless the data was masked at preprocess time). */
  original: Int32Array;
  meta: SidecarRecord;
}

export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, 'manifest.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Manifest;
  } catch (err) {
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      `${path}: ${(err as Error).message} (is ${dir} a preprocess output folder?)`,
    );
  }
}

export async function readStoredDocument(
  dir: string,
  split: Split,
  n: number,
  tokenizer: Tokenizer,
): Promise<StoredDocument> {
  const manifest = await readManifest(dir);
  let first = 0;
  for (const shard of manifest.shards.filter((s) => s.split === split)) {
    if (n >= first + shard.documents) {
      first += shard.documents;
      continue;
    }
    const prefix = join(dir, shard.name);
    const data = await IndexedDataset.open(prefix);
    try {
      const [start, end] = data.documentSequences(n - first);
      const parts: Int32Array[] = [];
      for (let i = start; i < end; i++) parts.push(await data.getSequence(i));
      const joined = concat(parts);
      const L = tokenizer.layout;
      const noEos = (x: Int32Array): Int32Array =>
        x.length > 0 && x[x.length - 1] === L.eos ? x.subarray(0, x.length - 1) : x;
      const tokens = noEos(joined);
      const masked = manifest.config.cm3Static === true;
      const vocab = { maskBase: L.maskBase, maskCount: L.maskCount, eom: L.eom };
      const window = Number(manifest.config.cm3Window ?? 0);
      const meta = (await readSidecar(prefix))[start];
      let original = tokens;
      if (masked && window > 0) {
        // one sequence per CM3 window (cm3-window.ts): un-mask each, drop the header the later ones repeat
        const windows = parts.map((p) => cm3Inverse(noEos(p), vocab));
        const header =
          meta?.kind === 'code' ? codeHeaderTokens(windows[0], (i) => tokenizer.pieces[i]?.piece ?? '', window + 1) : 0;
        original = joinWindows(windows, header);
      } else if (masked) {
        original = cm3Inverse(tokens, vocab);
      }
      return { shard: shard.name, tokens, original, meta };
    } finally {
      await data.close();
    }
  }
  const total = manifest.shards.filter((s) => s.split === split).reduce((a, s) => a + s.documents, 0);
  throw new HyperlmError(
    'CLI_BAD_FLAG',
    `--doc ${n}: the ${split} split of ${dir} has ${total} documents (0..${total - 1})`,
  );
}

/** The image-code runs of a document, in order: the codes (id − imageBase) between each
 *  <image> … </image> pair, as encodeDocument wrote them. A run with a non-image id inside
 *  (e.g. a CM3 mask in still-masked tokens) is an error naming its position. */
export function imageCodeRuns(
  ids: Int32Array,
  layout: { imageBegin: number; imageEnd: number; imageBase: number; imageCount: number },
): Uint16Array[] {
  const runs: Uint16Array[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== layout.imageBegin) continue;
    const end = ids.indexOf(layout.imageEnd, i + 1);
    if (end < 0) throw new HyperlmError('SHARD_BAD_TOKEN', `image at token ${i} has no </image>`);
    const run = new Uint16Array(end - i - 1);
    for (let j = i + 1; j < end; j++) {
      const c = ids[j] - layout.imageBase;
      if (c < 0 || c >= layout.imageCount)
        throw new HyperlmError(
          'SHARD_BAD_TOKEN',
          `token ${j} (id ${ids[j]}) inside the image at token ${i} is not an image code`,
        );
      run[j - i - 1] = c;
    }
    runs.push(run);
    i = end;
  }
  return runs;
}

function concat(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
