// Language identification for `--languages en,de…` with eld (Efficient Language Detector, Apache-2.0,
// n-gram statistics, 60 languages, ISO 639-1 codes; the `small` database). Chosen over franc-min (MIT,
// trigrams, 82 languages), which was many times slower — slower than minimizing the page — for the same
// answers but one (it called an English page French); tinyld (MIT) was as slow as franc and noisier;
// cld3-asm (WASM, 6.6 MB, not timed) needs an asynchronous module loader per worker. Too little text, or
// text eld calls unreliable, is `und` and kept by the filter.
import { HyperlmError } from '../errors.js';

/** Characters of visible text looked at: enough for a confident answer, bounded cost on huge pages. */
const SAMPLE_CHARS = 2000;

/** A text without enough letters to tell gets this code (ISO 639-3 "undetermined"); the filter keeps it. */
export const UNDETERMINED = 'und';

/** Letters below which no answer is trusted (a title or a code synopsis is not enough): on ../shared/corpus
 *  the 7 English pages eld would otherwise drop were stubs whose minimized text is a title ("Chapter 71. BRIN
 *  Indexes" → fr, "postmaster" → et); the text-ratio filter judges those. */
export const MIN_LETTERS = 25;

export type LanguageDetector = (text: string) => string;

let loading: Promise<LanguageDetector> | undefined;

/** eld/small, loaded once per thread. Loading costs each worker start-up time and heap, so it is imported
 *  only when a language filter is set: `--languages all` (the default) detects nothing. */
export function loadLanguageDetector(): Promise<LanguageDetector> {
  loading ??= import('eld/small').then(({ eld }) => (text: string): string => {
    const sample = text.slice(0, SAMPLE_CHARS);
    if (!hasLetters(sample, MIN_LETTERS)) return UNDETERMINED;
    const result = eld.detect(sample);
    return result.language === '' || !result.isReliable() ? UNDETERMINED : result.language;
  });
  return loading;
}

function hasLetters(text: string, n: number): boolean {
  const letter = /\p{L}/gu;
  let count = 0;
  while (letter.exec(text) !== null) if (++count >= n) return true;
  return false;
}

/** The ISO 639-1 codes eld can answer with (checked against `--languages`). */
export const ELD_LANGUAGES = new Set(
  (
    'am ar az be bg bn ca cs da de el en es et eu fa fi fr gu he hi hr hu hy is it ja ka kn ko ku lo lt lv ml mr ms ' +
    'nl no or pa pl pt ro ru sk sl sq sr sv ta te th tl tr uk ur vi yo zh'
  ).split(' '),
);

/** Parses `--languages`: `all`, or a comma-separated list of ISO 639-1 codes (`und` is always kept). */
export function parseLanguages(value: string): string[] | 'all' {
  if (value.trim() === 'all') return 'all';
  const codes = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (codes.length === 0) throw new HyperlmError('CLI_BAD_FLAG', '--languages must be all or a list like en,de');
  for (const c of codes) {
    if (!ELD_LANGUAGES.has(c)) {
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `--languages: ${JSON.stringify(c)} is not an ISO 639-1 code the detector knows (${[...ELD_LANGUAGES].join(' ')}; ` +
          'documents too short to tell, "und", are always kept)',
      );
    }
  }
  return [...new Set(codes)].sort();
}
