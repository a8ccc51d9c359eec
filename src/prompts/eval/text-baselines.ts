// The baselines the issue asks for beside every model result, as Predictors run by the same loop:
// summarization — the page's first heading, and the first 10 words of its body (lead-10, the standard
// lead baseline cut to title length); captioning — the nearest heading before the image, and the image's
// file name as words; infill — the line just before the gap repeated. The n-gram infill baseline is in
// ngram-baseline.ts (it needs a tokenizer and training shards); these need only the task row and the page.

import { readFile } from 'node:fs/promises';
import { HyperlmError } from '../../errors.js';
import { decodeHtmlBytes } from '../../minimize/index.js';
import { firstWords, humanizeFileName, pageOutline, type PageOutline } from './page-outline.js';
import type { EvalSystem } from './runner.js';
import type { CaptionRow, InfillRow, SummarizeRow } from './task-files.js';

/** Words of the lead baseline: 10, about twice a title's length, so recall is not capped by brevity. */
export const LEAD_WORDS = 10;

/** Parsed pages by absolute path: caption rows share pages, and each system reads the page again. */
export class PageCache {
  private readonly pages = new Map<string, Promise<PageOutline>>();
  /** Pages kept at most (the summarize set has 300 distinct pages; an outline is small). */
  constructor(private readonly capacity = 1000) {}

  outline(path: string): Promise<PageOutline> {
    let p = this.pages.get(path);
    if (!p) {
      p = readFile(path).then(
        (bytes) => pageOutline(decodeHtmlBytes(new Uint8Array(bytes), path).text),
        (err: unknown) => {
          throw new HyperlmError('INPUT_NOT_FOUND', `page ${path} cannot be read`, { cause: err });
        },
      );
      if (this.pages.size >= this.capacity) this.pages.delete(this.pages.keys().next().value as string);
      this.pages.set(path, p);
    }
    return p;
  }
}

export function summarizeBaselines(pages = new PageCache()): Array<EvalSystem<SummarizeRow>> {
  return [
    {
      name: 'first-heading',
      kind: 'baseline',
      predict: async (row) => ({ prediction: (await pages.outline(row.file)).headings[0] ?? '' }),
    },
    {
      name: `lead-${LEAD_WORDS}`,
      kind: 'baseline',
      predict: async (row) => ({ prediction: firstWords((await pages.outline(row.file)).bodyText, LEAD_WORDS) }),
    },
  ];
}

export function captionBaselines(pages = new PageCache()): Array<EvalSystem<CaptionRow>> {
  return [
    {
      name: 'heading-before',
      kind: 'baseline',
      predict: async (row) => {
        const image = (await pages.outline(row.page)).images.find((im) => im.src === row.img_src);
        return { prediction: image?.headingBefore ?? '', extra: image ? undefined : { imageNotFound: true } };
      },
    },
    { name: 'file-name', kind: 'baseline', predict: async (row) => ({ prediction: humanizeFileName(row.img_src) }) },
  ];
}

/**
 * The last non-blank line of the prefix, with its newline (the target is whole lines ending in one).
 * Blank lines are skipped: repeating an empty line can never match a target with ≥ 10 non-blank characters.
 */
export function previousLine(prefix: string): string {
  const lines = prefix.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].trim() !== '') return `${lines[i]}\n`;
  return '';
}

export function repeatLineBaseline(): EvalSystem<InfillRow> {
  return { name: 'repeat-line', kind: 'baseline', predict: async (row) => ({ prediction: previousLine(row.prefix) }) };
}
