// Incremental stop-string matching for streamed generation: text arrives in pieces (one decoded token at a
// time) and a stop string may straddle any number of pieces. Each push releases the text that can no
// longer be the start of a stop string and holds back the rest, so a streaming client never receives a
// character that a later piece would have cut (llama.cpp's server does the same with its "partial stop"
// search, find_partial_stop_string). The result is exactly what cutting the whole text at the earliest
// stop occurrence gives (test/serve-stop-strings.test.ts checks it against that brute force on random splits).
// Used by the infill server (src/serve/completion.ts); generate.ts stops on token ids, not strings.

export interface StopPush {
  /** Text that is now safe to emit (never contains, nor can later become part of, a stop string). */
  text: string;
  /** The stop string that matched, when this push ended the stream (its text and anything after are cut). */
  stop?: string;
}

export class StopStringMatcher {
  private readonly stops: string[];
  /** Text received but not yet released: the tail that may still grow into a stop string. */
  private held = '';
  private stoppedOn: string | undefined;

  /** Empty strings are ignored (they would match everywhere). */
  constructor(stops: readonly string[]) {
    this.stops = [...new Set(stops.filter((s) => s.length > 0))];
  }

  /** Whether a stop string has matched; later pushes release nothing. */
  get stopped(): boolean {
    return this.stoppedOn !== undefined;
  }

  /** Feeds the next piece of text. */
  push(piece: string): StopPush {
    return this.scan(this.held + piece, false);
  }

  /** End of the stream: what is held back is released, cut at a stop string it still contains. */
  flush(): StopPush {
    return this.scan(this.held, true);
  }

  /**
   * The earliest full occurrence wins (at one position, the longer string). A match is final unless a stop
   * string could still begin at or before it and is only partly received (then more text decides).
   */
  private scan(text: string, final: boolean): StopPush {
    this.held = '';
    if (this.stoppedOn !== undefined) return { text: '' };
    if (this.stops.length === 0) return { text };
    let at = -1,
      which = '';
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > which.length))) {
        at = i;
        which = s;
      }
    }
    const pending = final ? text.length : text.length - this.partialTail(text); // earliest partly-received start
    if (at >= 0 && at < pending) {
      this.stoppedOn = which;
      return { text: text.slice(0, at), stop: which };
    }
    this.held = text.slice(pending);
    return { text: text.slice(0, pending) };
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialTail(text: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, text.length); n > best; n--) {
        if (text.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
