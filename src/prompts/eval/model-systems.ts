// The model's systems for each task, as Predictors over task rows, built on the prompt library
// (src/prompts): summarize → `runTitle` three ways (title masked; title masked with a repeated <h1> dropped;
// the description variant, scored against the title); caption → `runCaption` (masked and causal forms, best
// by the model's score) with the task row's context text before the image; image_gen → `runTextToImage`
// (its best noisy-channel score, per alt token) and `runImageInfill` of the image's middle half of codes
// (PSNR/SSIM against the real image); infill → infill-systems.ts (InCoder prompt, and left to right). A
// failed item (a prompt that cannot fit, an unreadable image) scores as an empty prediction with `failed` 1,
// so one bad item never stops a run.

import { readFile } from 'node:fs/promises';
import { HyperlmError } from '../../errors.js';
import { decodeHtmlBytes } from '../../minimize/index.js';
import { escapeAttr, escapeText } from '../../minimize/serialize.js';
import { loadRun, type LoadedRun } from '../../model/index.js';
import { encodeImage, runCaption, runImageInfill, runTextToImage, runTitle, type TitleOptions } from '../index.js';
import { loadImageTokenizer, type ImageTokenizer } from '../../vqgan/index.js';
import { tolerant, type EvalSystem } from './runner.js';
import { infillSystems } from './infill-systems.js';
import type { CaptionRow, EvalTask, SummarizeRow, TaskRows } from './task-files.js';

export interface ModelSystemOptions {
  /** Infill tasks: the infill prompt, left-to-right, or both (InCoder's comparison). */
  mode: 'infill' | 'ltr' | 'both';
  /** Sampling seed (text → image samples). */
  seed: number;
  /** The VQGAN for caption and image_gen (its bundle or run folder). */
  vqgan: string;
  /** Text → image samples reranked per item: the CM3 recipe with a budget a CPU can afford. */
  imageSamples: number;
  /** Beam width for titles and masked captions (HTLM and CM3 report beam 5). */
  numBeams: number;
}

export const MODEL_SYSTEM_DEFAULTS: ModelSystemOptions = {
  mode: 'both', // why: an infill result means something only beside the same model run left to right
  seed: 0,
  vqgan: 'data/vqgan', // why: the bundled image tokenizer the sample data was encoded with
  imageSamples: 2, // why: 256 codes per sample; CM3 reranks many more on a GPU
  numBeams: 5, // why: HTLM/CM3 decode with beam 5
};

async function readPage(path: string): Promise<string> {
  return decodeHtmlBytes(new Uint8Array(await readFile(path)), path).text;
}

export class EvalModel {
  private vq?: Promise<ImageTokenizer>;
  private constructor(
    readonly run: LoadedRun,
    readonly dir: string,
  ) {}

  static async load(dir: string): Promise<EvalModel> {
    return new EvalModel(await loadRun(dir), dir);
  }

  describe(): string {
    const c = this.run.config;
    return `${this.run.source.kind} step ${this.run.step}, ${c.nLayer} layers × d ${c.dModel}, block ${c.blockSize}`;
  }

  dispose(): void {
    this.run.model.dispose();
  }

  private imageTokenizer(path: string): Promise<ImageTokenizer> {
    this.vq ??= loadImageTokenizer(path);
    return this.vq;
  }

  private async imageCodes(
    row: CaptionRow,
    vqgan: string,
  ): Promise<{ rgb: Uint8Array; codes: Uint16Array; vq: ImageTokenizer }> {
    const vq = await this.imageTokenizer(vqgan);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(row.img_file));
    } catch (err) {
      throw new HyperlmError('INPUT_NOT_FOUND', `${row.id}: image ${row.img_file} cannot be read`, { cause: err });
    }
    return { ...(await encodeImage(vq, bytes, row.img_file)), vq };
  }

  systems<T extends EvalTask>(task: T, options: Partial<ModelSystemOptions> = {}): Array<EvalSystem<TaskRows[T]>> {
    const o = { ...MODEL_SYSTEM_DEFAULTS, ...options };
    const target = { model: this.run.model, tokenizer: this.run.tokenizer };
    const list = (s: Array<EvalSystem<never>>) => s as unknown as Array<EvalSystem<TaskRows[T]>>;
    switch (task) {
      case 'summarize': {
        const title = (name: string, opts: TitleOptions): EvalSystem<SummarizeRow> => ({
          name,
          kind: 'model',
          predict: tolerant(async (row) => {
            const r = await runTitle(target, await readPage(row.file), {
              numBeams: o.numBeams,
              ...opts,
              source: row.file,
            });
            const extra = {
              promptTokens: r.promptTokens,
              truncatedTokens: r.truncatedTokens,
              h1RepeatsTitle: r.h1RepeatsTitle,
            };
            return { prediction: r.prediction, prompt: r.prompt, extra };
          }),
        });
        return list([
          title('model:title', {}),
          title('model:title-no-h1', { dropRepeatedH1: true }),
          title('model:description', { target: 'description' }),
        ]);
      }
      case 'caption':
        return list([
          {
            name: 'model',
            kind: 'model',
            predict: tolerant(async (row: CaptionRow) => {
              const { codes } = await this.imageCodes(row, o.vqgan);
              const r = await runCaption(
                target,
                { context: escapeText(row.context_before), codes },
                { numBeams: o.numBeams },
              );
              const extra = { chosen: r.chosen, candidates: r.candidates.map((c) => [c.form, c.text]) };
              return { prediction: r.prediction, prompt: r.prompts[r.chosen], extra };
            }),
          },
        ] as Array<EvalSystem<CaptionRow>>);
      case 'image_gen':
        return list([
          {
            name: 'model',
            kind: 'model',
            predict: tolerant(async (row: CaptionRow) => {
              const { rgb, codes, vq } = await this.imageCodes(row, o.vqgan);
              const gen = await runTextToImage(target, row.alt, {
                imageTokenizer: vq,
                numSamples: o.imageSamples,
                seed: o.seed,
              });
              const altTokens = this.run.tokenizer.encode(escapeAttr(row.alt)).length + 1;
              const n = codes.length;
              const span = { start: Math.floor(n / 4), end: Math.floor((3 * n) / 4) }; // the middle half of the codes
              const fill = await runImageInfill(
                target,
                { codes, ...span, alt: row.alt, original: rgb },
                { imageTokenizer: vq },
              );
              return {
                prediction: `${gen.samples.length} samples, best score ${gen.samples[0].score.toFixed(2)}`,
                prompt: gen.prompt,
                metrics: { ownScore: gen.samples[0].score / altTokens, infillPsnr: fill.psnr, infillSsim: fill.ssim },
              };
            }),
          },
        ] as Array<EvalSystem<CaptionRow>>);
      case 'infill_line':
      case 'infill_span':
        return list(infillSystems(this.run, task, { mode: o.mode }) as Array<EvalSystem<never>>);
      default:
        throw new HyperlmError('CONFIG_BAD_VALUE', `eval: unknown task ${String(task)}`);
    }
  }
}
