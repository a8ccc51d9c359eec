// The n-gram infill baseline (issue 8): the Kneser–Ney 4-gram of src/prompts/baselines, trained on the
// run's training shards with the run's own tokenizer, continues the prefix greedily, left to right, until
// it ends a line (infill_line) — or, for infill_span, until it has written as many lines as the target
// has, the rule InCoder's left-to-right comparisons use, since a left-to-right model cannot know where the
// span ends. Blank lines before the first visible character are skipped (a target line always has ≥ 10
// non-blank characters; on code, "\n" is often the greedy first token). It never sees the suffix.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '../../tokenize/index.js';
import { trainNgramFromShards, type KneserNeyModel } from '../baselines/index.js';
import type { EvalSystem } from './runner.js';
import type { InfillRow } from './task-files.js';

export interface NgramBaselineOptions {
  /** Tokens of the prefix's end encoded as context (the model reads only the last order − 1 of them). */
  contextChars: number;
  /** Most tokens generated per line of the target (a line of code is rarely over 40 tokens). */
  tokensPerLine: number;
  /** Training tokens read from the shards at most (memory grows with distinct n-grams). */
  maxTrainTokens: number;
}

export const NGRAM_BASELINE_DEFAULTS: NgramBaselineOptions = {
  contextChars: 200, // why: a few lines, far more than 3 tokens, so the tokenization of the cursor's line is as in training
  tokensPerLine: 64, // why: the task's lines are ≤ 240 characters; 64 tokens covers them without running on forever
  maxTrainTokens: 5_000_000, // why: trainNgramFromShards' default, 0.25–0.75 GB
};

/** Per id: bit 1 when its text contains a newline, bit 2 when it has a non-whitespace character. */
export function pieceKinds(tokenizer: Tokenizer): Uint8Array {
  const out = new Uint8Array(tokenizer.layout.size);
  for (let id = 0; id < out.length; id++) {
    if (id >= tokenizer.layout.imageBase && id < tokenizer.layout.imageBase + tokenizer.layout.imageCount) continue;
    const text = tokenizer.decode([id]);
    out[id] = (text.includes('\n') ? 1 : 0) | (text.trim() !== '' ? 2 : 0);
  }
  return out;
}

/** The first `lines` lines of a text, each with its newline (fewer when the text has fewer). */
export function firstLines(text: string, lines: number): string {
  let at = -1;
  for (let i = 0; i < lines; i++) {
    const next = text.indexOf('\n', at + 1);
    if (next < 0) return text;
    at = next;
  }
  return text.slice(0, at + 1);
}

/** A Predictor from an n-gram model and its tokenizer (see the file comment). */
export function ngramPredictor(
  model: KneserNeyModel,
  tokenizer: Tokenizer,
  opts: Partial<NgramBaselineOptions> = {},
): EvalSystem<InfillRow>['predict'] {
  const o = { ...NGRAM_BASELINE_DEFAULTS, ...opts };
  const kinds = pieceKinds(tokenizer);
  const { eos, eom } = tokenizer.layout;
  return async (row) => {
    const lines = Math.max(1, (row.middle.match(/\n/g) ?? []).length);
    const context = tokenizer.encode(row.prefix.slice(-o.contextChars));
    let seen = 0;
    let visible = false;
    const stop = (t: number): boolean => {
      if (t === eos || t === eom) return true;
      if ((kinds[t] & 1) !== 0 && visible) seen++; // a piece with text then a newline ends its line
      visible ||= (kinds[t] & 2) !== 0;
      return seen >= lines;
    };
    const { tokens } = model.greedyContinue(
      context.length ? context : [tokenizer.layout.bos],
      o.tokensPerLine * lines,
      stop,
    );
    const text = tokenizer.decode(tokens.filter((t) => t !== eos && t !== eom)).replace(/^(?:[ \t]*\n)+/, '');
    return { prediction: firstLines(text, lines), extra: { tokens: tokens.length } };
  };
}

/** Trains the 4-gram on DIR's train shards with DIR's tokenizer and returns it as the `ngram-4` system. */
export async function ngramSystem(
  dataDir: string,
  opts: Partial<NgramBaselineOptions> = {},
): Promise<{ system: EvalSystem<InfillRow>; documents: number; tokens: number }> {
  const o = { ...NGRAM_BASELINE_DEFAULTS, ...opts };
  const trained = await trainNgramFromShards(dataDir, 'train', { order: 4, maxTokens: o.maxTrainTokens });
  const vocab = JSON.parse(await readFile(join(dataDir, 'vocab.json'), 'utf8').catch(() => '{}')) as {
    layout?: { imageCount?: number };
  };
  const tokenizer = await Tokenizer.load(join(dataDir, 'tokenizer.model'), {
    imageCodes: vocab.layout?.imageCount ?? 8192,
  });
  return {
    system: { name: 'ngram-4', kind: 'baseline', predict: ngramPredictor(trained.model, tokenizer, o) },
    documents: trained.documents,
    tokens: trained.tokens,
  };
}
