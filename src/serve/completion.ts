// One completion's text, token by token, with the stopping rules editors rely on, as llama.cpp's server
// applies them (tools/server: process_token): decoded text is released only once it is final (a UTF-8
// character split over byte-fallback tokens waits for its last byte; a possible stop string waits until it
// cannot match — src/model/stop-strings.ts); a stop string cuts the text (stop_type "word"); with n_indent,
// a new line indented less than n_indent ends the completion there, keeping its indentation ("limit"); with
// t_max_predict_ms, once that much time has passed since the first token, the next newline ends it ("limit").
// The engine (engine.ts) feeds tokens and ends on stop tokens and budgets; protocols read `content` and
// stream the pieces passed to `onText`.

import { StopStringMatcher } from '../model/stop-strings.js';
import { PieceType } from '../tokenize/spm-model.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';

export type StopType = 'none' | 'eos' | 'limit' | 'word';

export interface CompletionRules {
  stop: string[];
  /** Minimum indentation (spaces/tabs) of every line after the first; 0 = off. */
  nIndent: number;
  /** Generation time after which the next newline ends the completion; 0 = off. */
  tMaxPredictMs: number;
}

export class CompletionText {
  /** The completion so far (released text; the final content once ended). */
  content = '';
  stopType: StopType = 'none';
  stoppingWord = '';
  readonly tokens: number[] = [];
  hasNewLine = false;
  private readonly matcher: StopStringMatcher;
  /** Characters of decode(tokens) already given to the matcher. */
  private decoded = 0;
  /** n_indent: start of the line being checked (-1: none), and where to look for the next newline. */
  private lineStart = -1;
  private scanFrom = 0;
  private firstTokenAt = -1;
  /** Tokens since the last onText call (llama.cpp's stream chunks carry them). */
  private pendingTokens: number[] = [];

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly rules: CompletionRules,
    private readonly onText?: (text: string, tokens: number[]) => void,
  ) {
    this.matcher = new StopStringMatcher(rules.stop);
  }

  get ended(): boolean {
    return this.stopType !== 'none';
  }

  /** A generated (non-stop) token; returns false when the text rules end the completion. */
  push(token: number, now = performance.now()): boolean {
    if (this.ended) return false;
    if (this.firstTokenAt < 0) this.firstTokenAt = now;
    this.tokens.push(token);
    this.pendingTokens.push(token);
    const full = this.tokenizer.decode(this.tokens);
    let stable = full.length;
    // a character split over byte-fallback tokens decodes as U+FFFD until its last byte arrives
    if (this.incompleteUtf8()) while (stable > this.decoded && full.charCodeAt(stable - 1) === 0xfffd) stable--;
    if (stable <= this.decoded) return true;
    const r = this.matcher.push(full.slice(this.decoded, stable));
    this.decoded = stable;
    this.release(r.text, now);
    if (r.stop !== undefined && !this.ended) this.end('word', r.stop);
    return !this.ended;
  }

  /** Whether the trailing byte-fallback tokens end inside a UTF-8 sequence (a lead byte still missing continuations). */
  private incompleteUtf8(): boolean {
    for (let i = this.tokens.length - 1, seen = 0; i >= 0 && seen < 4; i--, seen++) {
      const p = this.tokenizer.pieces[this.tokens[i]];
      const m = p?.type === PieceType.BYTE ? /^<0x([0-9A-F]{2})>$/.exec(p.piece) : null;
      if (!m) return false;
      const b = parseInt(m[1], 16);
      if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
      const need = (b & 0xe0) === 0xc0 ? 2 : (b & 0xf0) === 0xe0 ? 3 : (b & 0xf8) === 0xf0 ? 4 : 1;
      return seen + 1 < need;
    }
    return false;
  }

  /** Ends the completion (a stop token: 'eos'; a token budget: 'limit'), releasing what was held back. */
  finish(why: 'eos' | 'limit', now = performance.now()): void {
    if (this.ended) return;
    const full = this.tokenizer.decode(this.tokens);
    const r1 = this.matcher.push(full.slice(this.decoded));
    this.decoded = full.length;
    this.release(r1.text, now, false);
    if (this.ended) return;
    if (r1.stop !== undefined) return this.end('word', r1.stop);
    const r2 = this.matcher.flush();
    this.release(r2.text, now, false);
    if (this.ended) return;
    if (r2.stop !== undefined) return this.end('word', r2.stop);
    this.end(why);
  }

  private end(type: StopType, word = ''): void {
    this.stopType = type;
    this.stoppingWord = word;
  }

  /**
   * Appends released text. n_indent (llama.cpp): every line after the first newline must start with at
   * least n_indent spaces/tabs — an empty line too — else the completion ends at its first other character.
   * t_max_predict_ms: a chunk holding a newline ends the completion once that much time has passed.
   */
  private release(text: string, now: number, timeRule = true): void {
    if (text === '') return;
    const base = this.content.length;
    const all = this.content + text;
    let end = all.length;
    while (this.rules.nIndent > 0) {
      if (this.lineStart < 0) {
        const nl = all.indexOf('\n', this.scanFrom);
        if (nl < 0) break;
        this.lineStart = nl + 1;
      }
      let p = this.lineStart;
      while (p < all.length && (all[p] === ' ' || all[p] === '\t')) p++;
      if (p >= all.length) break; // only indentation so far: undecided
      if (p - this.lineStart < this.rules.nIndent) {
        end = p;
        break;
      }
      this.scanFrom = p;
      this.lineStart = -1;
    }
    const add = all.slice(base, end);
    this.content += add;
    this.emit(add);
    if (end < all.length) return this.end('limit');
    if (add.includes('\n')) {
      this.hasNewLine = true;
      if (timeRule && this.rules.tMaxPredictMs > 0 && now - this.firstTokenAt > this.rules.tMaxPredictMs)
        this.end('limit');
    }
  }

  private emit(text: string): void {
    if (!this.onText || text === '') return;
    const tokens = this.pendingTokens;
    this.pendingTokens = [];
    this.onText(text, tokens);
  }
}
