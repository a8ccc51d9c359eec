// Title summarization as in HTLM §4 / CM3 §4.1 (zero-shot summarization through HTML structure): the page is
// minimized with the project's own minimizer (src/minimize, images as alt text only), its head is replaced by
// the one masked element, and the model infills it CM3-style — the sentinel closes the document and the
// model writes the span until `<eom>`:
//   <html><head><title><mask:0></title></head><body>…</body></html><mask:0>
//   <html><head><meta content="<mask:0>" name="description"></head><body>…</body></html><mask:0>
// (attributes alphabetical, as the minimizer writes them). The body is cut at its end to fit the context.
// Optionally the body's first <h1> is dropped when it repeats the title (the answer would be on the page).

import { HyperlmError } from '../errors.js';
import { generate } from '../model/index.js';
import { DEFAULT_MINIMIZE, minimizeHtml, type MinimizeOptions } from '../minimize/index.js';
import { encodePrompt, type PromptPart } from './prompt.js';
import {
  decodeOptions,
  resolveTarget,
  spanStops,
  unescapeHtml,
  untilStop,
  type DecodeOptions,
  type PromptTarget,
} from './target.js';

export interface TitlePromptOptions {
  /** What the sentinel stands for: the <title> text, or the <meta name="description"> content. */
  target: 'title' | 'description';
  /** Remove the body's first <h1> when it repeats the title. */
  dropRepeatedH1: boolean;
  /** Minimizer options (imageSlots is forced off: images keep their alt text only). */
  minimize: MinimizeOptions;
}

export const TITLE_PROMPT_DEFAULTS: TitlePromptOptions = {
  // why: the HTLM/CM3 summarization prompt masks the title
  target: 'title',
  // why: off by default so the prompt is the page as written; eval reports both
  dropRepeatedH1: false,
  // why: the same minimization the training data went through
  minimize: DEFAULT_MINIMIZE,
};

/** A minimized page cut into the pieces the prompt needs (texts as written, still HTML-escaped). */
export interface MinimizedPage {
  /** `<html …>` as the minimizer wrote it (it may carry lang). */
  htmlOpen: string;
  title?: string;
  description?: string;
  body: string;
}

export interface TitlePrompt {
  parts: PromptPart[];
  /** The masked element's text on the page (unescaped), the reference for summarization. */
  reference?: string;
  /** Whether the body's first <h1> repeats the title, and whether it was dropped. */
  h1RepeatsTitle: boolean;
  droppedH1: boolean;
}

/** Splits the minimizer's canonical serialization `<html…><head>…</head><body>…</body></html>`. */
export function splitMinimizedPage(minimized: string): MinimizedPage {
  const htmlOpen = /^<html[^>]*>/.exec(minimized)?.[0] ?? '<html>';
  const head = /<head>([\s\S]*?)<\/head>/.exec(minimized)?.[1] ?? '';
  const bodyStart = minimized.indexOf('<body>');
  const bodyEnd = minimized.lastIndexOf('</body>');
  const body = bodyStart < 0 ? '' : minimized.slice(bodyStart + 6, bodyEnd < 0 ? undefined : bodyEnd);
  return {
    htmlOpen,
    title: /<title>([\s\S]*?)<\/title>/.exec(head)?.[1],
    description: /<meta content="([^"]*)" name="description">/.exec(head)?.[1],
    body,
  };
}

const normalize = (html: string): string =>
  unescapeHtml(html.replace(/<[^>]*>/g, ' '))
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();

/** Builds the title (or description) prompt from raw HTML. Pure. */
export function titlePrompt(html: string, options: Partial<TitlePromptOptions> = {}, source = 'page'): TitlePrompt {
  const opts = { ...TITLE_PROMPT_DEFAULTS, ...options };
  // a page to prompt with is not filtered (minTextRatio 0): only cleaned as training pages were
  const doc = minimizeHtml(html, { ...opts.minimize, imageSlots: false, minTextRatio: 0 }, source);
  const page = splitMinimizedPage(doc.segments.filter((s): s is string => typeof s === 'string').join(''));
  let body = page.body;
  const h1 = /<h1(?: [^>]*)?>([\s\S]*?)<\/h1>/.exec(body);
  const title = page.title === undefined ? '' : normalize(page.title);
  const heading = h1 ? normalize(h1[1]) : '';
  const h1RepeatsTitle = heading !== '' && title !== '' && (title.includes(heading) || heading.includes(title));
  const droppedH1 = h1RepeatsTitle && opts.dropRepeatedH1;
  if (droppedH1) body = body.slice(0, h1!.index) + body.slice(h1!.index + h1![0].length);
  if (normalize(body) === '')
    throw new HyperlmError('PROMPT_EMPTY', `${source}: the minimized page has no body text to summarize`);
  const [open, close] =
    opts.target === 'title'
      ? ['<head><title>', '</title></head><body>']
      : ['<head><meta content="', '" name="description"></head><body>'];
  const raw = opts.target === 'title' ? page.title : page.description;
  return {
    parts: [
      { text: page.htmlOpen + open },
      { mask: 0 },
      { text: close },
      { text: body, truncate: 'end' },
      { text: '</body></html>' },
      { mask: 0 },
    ],
    reference: raw === undefined ? undefined : unescapeHtml(raw).trim(),
    h1RepeatsTitle,
    droppedH1,
  };
}

export interface TitleOptions extends Partial<TitlePromptOptions>, DecodeOptions {
  /** Names the page in errors. */
  source?: string;
}

export interface TitleResult {
  /** The infilled title (or description), unescaped and trimmed. */
  prediction: string;
  reference?: string;
  /** The exact prompt (renderPrompt, after truncation). */
  prompt: string;
  promptTokens: number;
  truncatedTokens: number;
  generatedTokens: number;
  finish: string;
  h1RepeatsTitle: boolean;
  droppedH1: boolean;
}

/** Summarize a page into its title (HTLM/CM3): beam 5, up to 24 tokens, until <eom>, by default. */
export async function runTitle(target: PromptTarget, html: string, opts: TitleOptions = {}): Promise<TitleResult> {
  const { model, tokenizer } = await resolveTarget(target);
  const built = titlePrompt(html, opts, opts.source);
  const maxNewTokens = opts.maxNewTokens ?? 24;
  const L = tokenizer.layout;
  const enc = encodePrompt(
    tokenizer,
    built.parts,
    model.config.blockSize - maxNewTokens,
    opts.source ?? 'title prompt',
  );
  const stops = spanStops(L);
  const out = generate(model, [enc.ids], {
    numBeams: 5,
    ...decodeOptions(opts),
    maxNewTokens,
    stopTokens: stops,
    padToken: L.pad,
  });
  const ids = untilStop(out.tokens[0], stops).filter((id) => id < L.imageBase);
  return {
    prediction: unescapeHtml(tokenizer.decode(ids)).trim(),
    reference: built.reference,
    prompt: enc.text,
    promptTokens: enc.ids.length,
    truncatedTokens: enc.truncatedTokens,
    generatedTokens: out.tokens[0].length,
    finish: out.finish[0],
    h1RepeatsTitle: built.h1RepeatsTitle,
    droppedH1: built.droppedH1,
  };
}
