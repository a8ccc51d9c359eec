// The per-document pipeline that every worker runs: a plain list of stages, each reading and extending
// one work record (after datatrove's PipelineStep). decode → minimize → filter → images → tokenize → cm3.
// A stage that rejects the document throws a HyperlmError; the caller turns it into a counted skip.
// Timings per stage are returned for the benchmark.
import { createHash } from 'node:crypto';
import { HyperlmError } from '../errors.js';
import { documentIdentity, type MinimizedDocument, type RawDocument } from '../data/document.js';
import { decodeCodeBytes, decodeHtmlBytes } from '../minimize/charset.js';
import { minimizeHtml } from '../minimize/minimize.js';
import type { MinimizeOptions } from '../minimize/minimize-config.js';
import { codeDocumentText } from '../minimize/code-document.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { cm3Transform, CM3_DEFAULTS } from '../tokenize/cm3.js';
import { cm3Windows, codeHeaderTokens } from '../tokenize/cm3-window.js';
import { Rng } from '../rng.js';
import { resolveImageSource } from '../data/image-resolve.js';
import type { ImageTokenizer } from '../vqgan/image-tokenizer.js';
import type { PreprocessConfig } from './config.js';
import { UNDETERMINED, type LanguageDetector } from '../filter/language.js';
import type { DedupKeys } from '../filter/dedup.js';
import { bandKeys, shingles, signature } from '../filter/minhash.js';
import { canonicalDocument, visibleText } from '../filter/visible-text.js';

/** What a worker needs besides the document; built once per worker. */
export interface DocumentContext {
  config: PreprocessConfig;
  minimize: MinimizeOptions;
  /** Absent in pass 1 (tokenizer training), which stops after minimization. */
  tokenizer?: Tokenizer;
  imageTokenizer?: ImageTokenizer;
  /** Image codes already computed in this worker, by content hash (duplicate images are encoded once). */
  imageCache?: Map<string, Uint16Array>;
  /** Loaded when config.languages is a list (pass 2 only). */
  detectLanguage?: LanguageDetector;
}

export type StageName = 'decode' | 'minimize' | 'filter' | 'images' | 'tokenize' | 'cm3';

export interface Work {
  raw: RawDocument;
  text?: string;
  minimized?: MinimizedDocument;
  imageCodes: Array<Uint16Array | null>;
  imagesDropped: Record<string, number>;
  imagesEncoded: number;
  tokens?: Int32Array;
  /** Static windowed CM3: the window lengths `tokens` is cut into (the last window holds the eos). */
  windows?: number[];
  /** Set by the filter stage: detected language (HTML with a language filter), dedup keys, characters. */
  lang?: string;
  dedup?: DedupKeys;
  chars?: number;
  /** A filter removed the document: the stages after it are not run (a counted skip, not an error). */
  rejected?: { reason: 'DOC_LANGUAGE'; detail: string };
}

type Stage = (work: Work, ctx: DocumentContext) => Promise<void> | void;

const decode: Stage = (work) => {
  const { raw } = work;
  if (raw.bytes.length === 0) throw new HyperlmError('DOC_EMPTY', `${raw.source}: empty file`);
  work.text =
    raw.kind === 'html' ? decodeHtmlBytes(raw.bytes, raw.source).text : decodeCodeBytes(raw.bytes, raw.source);
};

const minimize: Stage = (work, ctx) => {
  const { raw } = work;
  if (raw.kind === 'code') {
    const text = codeDocumentText(raw.relPath ?? raw.source, raw.language, work.text!);
    work.minimized = { segments: [text], images: [], stats: {}, textRatio: 1 };
    return;
  }
  // minimizeHtml itself skips pages below minTextRatio (DOC_LOW_TEXT_RATIO) and too deep (DOC_TOO_LARGE).
  work.minimized = minimizeHtml(work.text!, ctx.minimize, raw.source);
};

// Each kept <img> is resolved (file, data: URI, WARC record), hashed, decoded by images.ts and encoded
// into codes, all of a page's new images in one encode call. Unusable images are dropped with a reason
// counted in the manifest (images.dropped); the page is always kept. Codes are cached per worker by
// content hash, so an icon repeated on every page is encoded once. images.ts (sharp) is imported here,
// not at the top: a text-only worker never loads it (see context.ts).
const images: Stage = async (work, ctx) => {
  const min = work.minimized!;
  work.imageCodes = min.images.map(() => null);
  const tok = ctx.imageTokenizer;
  if (!tok || min.images.length === 0) return;
  const { raw, imagesDropped } = work;
  const { loadImage } = await import('../vqgan/images.js');
  const drop = (reason: string): void => {
    imagesDropped[reason] = (imagesDropped[reason] ?? 0) + 1;
  };
  const page = { url: raw.url, filePath: raw.filePath, root: raw.root, baseHref: min.baseHref, images: raw.images };
  const pending: Array<{ slots: number[]; key: string; rgb: Uint8Array }> = [];
  const byKey = new Map<string, { slots: number[] }>();
  for (let k = 0; k < min.images.length; k++) {
    const found = await resolveImageSource(min.images[k].src, page);
    if ('drop' in found) {
      drop(found.drop);
      continue;
    }
    const key = createHash('sha256').update(found.bytes).digest('hex');
    const cached = ctx.imageCache?.get(key);
    if (cached) {
      work.imageCodes[k] = cached;
      work.imagesEncoded++;
      continue;
    }
    const same = byKey.get(key);
    if (same) {
      same.slots.push(k);
      continue;
    }
    const loaded = await loadImage(
      found.bytes,
      { size: tok.resolution, maxPixels: ctx.config.maxImagePixels },
      `${raw.source} <img src=${min.images[k].src}>`,
    );
    if ('drop' in loaded) {
      drop(loaded.drop);
      continue;
    }
    const entry = { slots: [k], key, rgb: loaded.rgb };
    byKey.set(key, entry);
    pending.push(entry);
  }
  if (pending.length === 0) return;
  let codes: Uint16Array[];
  try {
    codes = await tok.encode(pending.map((p) => p.rgb));
  } catch {
    for (const p of pending) for (const _ of p.slots) drop('encode-failed'); // the page keeps its text
    return;
  }
  pending.forEach((p, i) => {
    ctx.imageCache?.set(p.key, codes[i]);
    for (const k of p.slots) {
      work.imageCodes[k] = codes[i];
      work.imagesEncoded++;
    }
  });
};

const tokenize: Stage = (work, ctx) => {
  work.tokens = ctx.tokenizer!.encodeDocument(work.minimized!.segments, work.imageCodes);
};

const cm3: Stage = (work, ctx) => {
  const { config } = ctx;
  if (!config.cm3Static) return;
  const tok = ctx.tokenizer!;
  const L = tok.layout;
  const vocab = {
    maskBase: L.maskBase,
    maskCount: L.maskCount,
    eom: L.eom,
    imageBegin: L.imageBegin,
    imageEnd: L.imageEnd,
  };
  const opts = { ...CM3_DEFAULTS, maxMasks: config.maxMasks };
  const id = documentIdentity(work.raw);
  if (config.cm3Window === 0) {
    work.tokens = cm3Transform(work.tokens!, vocab, opts, Rng.fromParts('cm3-static', config.seed, id));
    return;
  }
  // the same windows the loader cuts, each planned for a row of its own (cm3-window.ts)
  const row = config.cm3Window + 1;
  const body = work.tokens!;
  const header = work.raw.kind === 'code' ? codeHeaderTokens(body, (i) => tok.pieces[i]?.piece ?? '', row) : 0;
  const windows = cm3Windows(
    { body, header },
    row,
    vocab,
    opts,
    L.eos,
    (w) => Rng.fromParts('cm3-static', config.seed, id, w),
    work.raw.source,
  );
  work.windows = windows.map((w) => w.tokens.length);
  const out = new Int32Array(work.windows.reduce((a, b) => a + b, 0));
  let o = 0;
  for (const w of windows) {
    out.set(w.tokens, o);
    o += w.tokens.length;
  }
  work.tokens = out;
};

// Language identification (HTML only: code documents are exempt) and the dedup keys. Which copy of a
// duplicate is kept is decided by the writer, in input order (filter/dedup.ts); here only the keys.
const filter: Stage = (work, ctx) => {
  const { raw } = work;
  const min = work.minimized!;
  const { config } = ctx;
  work.chars = minimizedText(min).length;
  const needsText = (config.languages !== 'all' && raw.kind === 'html') || config.dedup === 'near';
  const text = needsText ? visibleText(min, raw.kind) : '';
  if (config.languages !== 'all' && raw.kind === 'html') {
    work.lang = ctx.detectLanguage!(text);
    if (work.lang !== UNDETERMINED && !config.languages.includes(work.lang)) {
      work.rejected = {
        reason: 'DOC_LANGUAGE',
        detail: `${raw.source}: language ${work.lang} is not in --languages ${config.languages.join(',')}`,
      };
      return;
    }
  }
  if (config.dedup === 'none') return;
  const exact = createHash('sha256').update(canonicalDocument(min)).digest().subarray(0, 16).toString('base64');
  const sig = config.dedup === 'near' ? signature(shingles(text, config.minhash.ngrams), config.minhash) : undefined;
  work.dedup = { exact, bands: sig ? bandKeys(sig, config.minhash) : [] };
};

const STAGES: ReadonlyArray<readonly [StageName, Stage]> = [
  ['decode', decode],
  ['minimize', minimize],
  ['filter', filter],
  ['images', images],
  ['tokenize', tokenize],
  ['cm3', cm3],
];

/** Runs the stages in order; `until` stops after the named stage (pass 1 stops after `minimize`). */
export async function processDocument(
  raw: RawDocument,
  ctx: DocumentContext,
  until: StageName = 'cm3',
): Promise<{ work: Work; ms: Record<StageName, number> }> {
  const work: Work = { raw, imageCodes: [], imagesDropped: {}, imagesEncoded: 0 };
  const ms = { decode: 0, minimize: 0, filter: 0, images: 0, tokenize: 0, cm3: 0 };
  if (raw.bytes.length > ctx.config.maxDocBytes) {
    throw new HyperlmError(
      'DOC_TOO_LARGE',
      `${raw.source}: ${raw.bytes.length} bytes is over the limit of ${ctx.config.maxDocBytes} (--max-doc-bytes)`,
    );
  }
  for (const [name, stage] of STAGES) {
    const t0 = performance.now();
    await stage(work, ctx);
    ms[name] += performance.now() - t0;
    if (name === until || work.rejected) break;
  }
  return { work, ms };
}

/** The minimized text with image slots left empty: what the tokenizer is trained on. */
export function minimizedText(min: MinimizedDocument): string {
  return min.segments.filter((s): s is string => typeof s === 'string').join('');
}
