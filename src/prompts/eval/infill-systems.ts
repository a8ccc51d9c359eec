// The model's code-infill systems (InCoder §2.2) for infill_line and infill_span, on the prompt builder
// src/prompts/code-infill.ts: `model:infill` sees prefix and suffix (`header prefix <mask:0> suffix <mask:1>
// <mask:0>`, generation until <eom>), `model:ltr` the header and prefix only — the comparison InCoder
// makes. Greedy decoding; the header names the file by its path in the task file (`code/<package>/…`),
// as training documents name theirs by their path inside the input folder. Lines end as in the n-gram
// baseline (ngram-baseline.ts), so every system stops by the same rule: infill_line ends at the first
// newline after visible text (in both modes); infill_span ends at <eom> in infill mode, and after the
// target's line count left to right (which cannot know the end).

import { generate } from '../../model/index.js';
import { buildInfillPrompt, INFILL_DEFAULTS } from '../code-infill.js';
import type { LoadedRun } from '../../model/index.js';
import { firstLines, pieceKinds } from './ngram-baseline.js';
import { tolerant, type EvalSystem, type Prediction } from './runner.js';
import type { InfillRow } from './task-files.js';

export interface InfillSystemOptions {
  /** Which systems: the infill prompt, left to right, or both. */
  mode: 'infill' | 'ltr' | 'both';
  /** Token budget of one line of the target (spans get this per line, up to 8 lines). */
  tokensPerLine: number;
}

export const INFILL_SYSTEM_DEFAULTS: InfillSystemOptions = {
  mode: 'both', // why: InCoder reports infill next to left-to-right on the same model
  tokensPerLine: 48, // why: task lines are ≤ 240 characters; code averages 3–5 characters per token
};

export function infillSystems(
  run: LoadedRun,
  task: 'infill_line' | 'infill_span',
  options: Partial<InfillSystemOptions> = {},
): Array<EvalSystem<InfillRow>> {
  const o = { ...INFILL_SYSTEM_DEFAULTS, ...options };
  const { model, tokenizer } = run;
  const kinds = pieceKinds(tokenizer);
  const L = tokenizer.layout;
  const line = task === 'infill_line';

  /** Ids as text with the sentinels written out (`<mask:0>`), as the prompt library renders prompts. */
  const renderIds = (ids: number[]): string => {
    let out = '';
    let run: number[] = [];
    for (const t of [...ids, -1]) {
      const mask = t >= L.maskBase && t < L.maskBase + L.maskCount;
      if (!mask && t !== -1) {
        run.push(t);
        continue;
      }
      out += tokenizer.decode(run);
      run = [];
      if (mask) out += `<mask:${t - L.maskBase}>`;
    }
    return out;
  };

  const predict = (ltr: boolean) =>
    tolerant(async (row: InfillRow): Promise<Prediction> => {
      const lines = Math.max(1, (row.middle.match(/\n/g) ?? []).length);
      const maxNewTokens = Math.min(o.tokensPerLine * (line ? 1 : 8), Math.floor(model.config.blockSize / 2));
      const prompt = buildInfillPrompt(
        tokenizer,
        { prefix: row.prefix, suffix: row.suffix, path: row.path, language: row.language },
        {
          ...INFILL_DEFAULTS,
          contextTokens: model.config.blockSize,
          maxNewTokens,
          mode: ltr ? 'left-to-right' : line ? 'single-line' : 'multi-line',
        },
      );
      // count finished lines: a newline piece after visible text ends one (see the file comment)
      const limit = line || ltr ? lines : Infinity;
      let seen = 0;
      let visible = false;
      const onToken = (_row: number, t: number): boolean => {
        if ((kinds[t] & 1) !== 0 && visible) seen++;
        visible ||= (kinds[t] & 2) !== 0;
        return seen < limit;
      };
      const out = generate(model, [prompt.tokens], {
        maxNewTokens,
        temperature: 0,
        stopTokens: prompt.stopTokens,
        onToken,
        padToken: L.pad,
      });
      const ids = out.tokens[0].filter(
        (t) => !prompt.stopTokens.includes(t) && (t < L.imageBase || t >= L.imageBase + L.imageCount),
      );
      let text = tokenizer.decode(ids).replace(/^(?:[ \t]*\n)+/, '');
      if (limit !== Infinity) text = firstLines(text, limit);
      return {
        prediction: text,
        prompt: renderIds(prompt.tokens),
        extra: {
          promptTokens: prompt.tokens.length,
          truncated: prompt.truncated,
          generatedTokens: out.tokens[0].length,
          finish: out.finish[0],
        },
      };
    });
  const systems: Array<EvalSystem<InfillRow>> = [];
  if (o.mode !== 'ltr') systems.push({ name: 'model:infill', kind: 'model', predict: predict(false) });
  if (o.mode !== 'infill') systems.push({ name: 'model:ltr', kind: 'model', predict: predict(true) });
  return systems;
}
