// Synthetic preprocessed data for the training tests: a small vocabulary layout, documents of random
// text ids ending in eos (long ones split across sequences, as preprocess does), two domains, written
// with the real shard and sidecar writers plus manifest.json and vocab.json in preprocess's format.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../src/rng.js';
import { IndexedDatasetWriter, splitDocument } from '../../src/shards/megatron.js';
import { SidecarWriter } from '../../src/shards/sidecar.js';

export const LAYOUT = {
  size: 64,
  pad: 0,
  bos: 1,
  eos: 2,
  unk: 3,
  imageBegin: 4,
  imageEnd: 5,
  maskBase: 6,
  maskCount: 16,
  eom: 22,
  imageBase: 64,
  imageCount: 0,
  spmSize: 64,
  dtype: 'uint16' as const,
};
/** Text ids are [FIRST_TEXT, size). */
export const FIRST_TEXT = 23;

export interface SyntheticData {
  dir: string;
  /** Per split, documents in file order (without the eos), with their domain. */
  docs: Record<'train' | 'valid', Array<{ tokens: number[]; domain: number }>>;
}

/**
 * Documents follow a learnable pattern (each token is the previous + 1, wrapping within the text ids),
 * so a model's loss can fall quickly.
 */
export async function writeSyntheticData(
  dir: string,
  opts: { train?: number; valid?: number; seed?: number; cm3Static?: boolean; maxLen?: number; domains?: 2 | 3 } = {},
): Promise<SyntheticData> {
  mkdirSync(dir, { recursive: true });
  const rng = Rng.fromSeed(opts.seed ?? 7);
  const docs: SyntheticData['docs'] = { train: [], valid: [] };
  const shards: Array<{ name: string; split: string; documents: number; sequences: number; tokens: number }> = [];
  const nText = LAYOUT.size - FIRST_TEXT;
  for (const split of ['train', 'valid'] as const) {
    const count = split === 'train' ? (opts.train ?? 40) : (opts.valid ?? 8);
    // two shards per split, to exercise the shard boundary
    for (let s = 0; s < 2; s++) {
      const name = `${split}-${String(s).padStart(5, '0')}`;
      const prefix = join(dir, name);
      const w = new IndexedDatasetWriter(prefix, 'uint16');
      const side = new SidecarWriter(prefix);
      let sequences = 0,
        tokens = 0,
        documents = 0;
      for (let d = s; d < count; d += 2) {
        const len = 1 + rng.int(opts.maxLen ?? 50);
        const start = rng.int(nText);
        const domain = opts.domains === 3 ? d % 3 : d % 3 === 0 ? 1 : 0;
        const body = Array.from({ length: len }, (_, i) => FIRST_TEXT + ((start + i) % nText));
        docs[split].push({ tokens: body, domain });
        const parts = splitDocument(Int32Array.from([...body, LAYOUT.eos]), 24);
        parts.forEach((p, part) => {
          w.addSequence(p);
          side.add({
            doc: documents,
            part,
            source: `doc${d}`,
            kind: 'html',
            language: 'html',
            domain,
            tokens: p.length,
          });
          sequences++;
          tokens += p.length;
        });
        w.endDocument();
        documents++;
      }
      await w.finalize();
      await side.finalize();
      shards.push({ name, split, documents, sequences, tokens });
    }
  }
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({
      format: 'hyperlm-shards/1',
      config: { cm3Static: opts.cm3Static ?? false },
      shards,
      domains: opts.domains === 3 ? { 'site-a': 0, 'site-b': 1, 'site-c': 2 } : { 'site-a': 0, 'site-b': 1 },
    }),
  );
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify({ layout: LAYOUT }));
  return { dir, docs };
}
