// Multiple choice through an HTML template (HTLM's structured prompts): each choice is scored as the
// continuation of `{before}{question}{after}` and closed by `{close}`, e.g.
//   <div class="question">{question}</div><div class="answer">{choice}</div>
// then ranked by summed or mean log-probability, DC-PMI against the domain premise `{after}` alone (Holtzman
// et al. 2021) or contextual calibration with content-free questions "N/A", "" and "[MASK]" in the same
// template (Zhao et al. 2021). score.ts does the arithmetic; this file only fills the template.

import { HyperlmError } from '../errors.js';
import { rank, score, type CandidateScore, type RankRule } from './score.js';
import { resolveTarget, type PromptTarget } from './target.js';

export interface ChoiceTemplate {
  /** Text before the question. */
  before: string;
  /** Text between the question and the answer; alone, it is the DC-PMI domain premise. */
  after: string;
  /** Text closing an answer (scored with it, so a choice that runs on is penalized). */
  close: string;
}

export const QUESTION_TEMPLATE: ChoiceTemplate = {
  // why: a question/answer pair as HTML blocks, the shape HTLM prompts with
  before: '<div class="question">',
  after: '</div><div class="answer">',
  close: '</div>',
};

// why: Zhao et al.'s content-free inputs
export const CONTENT_FREE_INPUTS: readonly string[] = ['N/A', '', '[MASK]'];

export interface ChoiceOptions {
  template?: ChoiceTemplate;
  /** Default 'pmi'. */
  rule?: RankRule;
  contentFree?: readonly string[];
}

export interface ChoiceResult {
  best: number;
  choice: string;
  rule: RankRule;
  scores: CandidateScore[];
  prompt: string;
}

/** `{before}{question}{after}`. Pure. */
export function choicePrompt(question: string, template: ChoiceTemplate = QUESTION_TEMPLATE): string {
  return template.before + question + template.after;
}

/** Score every choice as the answer to `question` and pick one under `rule` (all four scores are filled). */
export async function runMultipleChoice(
  target: PromptTarget,
  question: string,
  choices: string[],
  opts: ChoiceOptions = {},
): Promise<ChoiceResult> {
  const { model, tokenizer } = await resolveTarget(target);
  const template = opts.template ?? QUESTION_TEMPLATE;
  const rule = opts.rule ?? 'pmi';
  if (choices.length === 0 || choices.some((c) => c.trim() === '')) {
    throw new HyperlmError('PROMPT_EMPTY', 'multiple choice: needs at least one choice and no empty choice');
  }
  const prompt = choicePrompt(question, template);
  const ids = (s: string) => tokenizer.encode(s);
  const premise = ids(template.after);
  if (premise.length === 0)
    throw new HyperlmError(
      'PROMPT_BAD_INPUT',
      'multiple choice: template.after must encode to at least one token (it is the DC-PMI premise)',
    );
  const scores = score(
    model,
    ids(prompt),
    choices.map((c) => ids(c + template.close)),
    {
      premise,
      contentFree: (opts.contentFree ?? CONTENT_FREE_INPUTS).map((x) => ids(choicePrompt(x, template))),
    },
  );
  const best = rank(scores, rule);
  return { best, choice: choices[best], rule, scores, prompt };
}
