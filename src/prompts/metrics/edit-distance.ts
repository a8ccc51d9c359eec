// Metrics for code infill and line completion: exact match and edit similarity.
// Exact match is CodeXGLUE's (`pred.split() == gt.split()`): equal after splitting on Python's whitespace
// and joining with single spaces. Edit similarity is 1 − Levenshtein(pred, ref) / max(|pred|, |ref|) on
// Unicode code points (Python's len), as RepoCoder's compute_ES does with `editdistance.eval`. CodeXGLUE's
// code-completion evaluator and CrossCodeEval instead report fuzzywuzzy's `fuzz.ratio`; see `editSimilarity`
// for why this one. Levenshtein is the two-row Wagner–Fischer DP with an optional bound for early exit.

/** Characters Python's str.isspace() accepts, so splitting matches `str.split()` (JS \s differs on \x1c-\x1f, \x85, \ufeff). */
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** CodeXGLUE's normalisation: whitespace runs collapsed to one space, leading and trailing whitespace dropped. */
export function normalizeWhitespace(text: string): string {
  return text
    .split(PY_WHITESPACE)
    .filter((t) => t.length > 0)
    .join(' ');
}

/** 1 when prediction and reference are the same token sequence under whitespace splitting, else 0. */
export function exactMatch(prediction: string, reference: string): number {
  return normalizeWhitespace(prediction) === normalizeWhitespace(reference) ? 1 : 0;
}

function codePoints(text: string): Int32Array {
  const out = new Int32Array(text.length);
  let n = 0;
  for (const ch of text) out[n++] = ch.codePointAt(0)!;
  return out.subarray(0, n);
}

/**
 * Levenshtein distance (unit-cost insert, delete, substitute) between two strings, over code points.
 * O(|a|·|b|) time, O(min(|a|, |b|)) space; a common prefix and suffix are stripped first. With `maxDistance`
 * the DP stops as soon as every cell of a row exceeds it and returns maxDistance + 1 ("more than the bound").
 */
export function levenshtein(a: string, b: string, maxDistance = Infinity): number {
  let s = codePoints(a);
  let t = codePoints(b);
  let start = 0;
  while (start < s.length && start < t.length && s[start] === t[start]) start++;
  let endS = s.length;
  let endT = t.length;
  while (endS > start && endT > start && s[endS - 1] === t[endT - 1]) {
    endS--;
    endT--;
  }
  s = s.subarray(start, endS);
  t = t.subarray(start, endT);
  if (s.length < t.length) [s, t] = [t, s]; // t is the shorter: the row has |t| + 1 cells
  const bound = (d: number): number => (d > maxDistance ? maxDistance + 1 : d);
  if (t.length === 0 || s.length - t.length > maxDistance) return bound(s.length);
  const row = new Int32Array(t.length + 1);
  for (let j = 0; j <= t.length; j++) row[j] = j;
  for (let i = 1; i <= s.length; i++) {
    let diagonal = row[0]; // D[i-1][j-1]
    row[0] = i;
    let rowMin = i;
    const si = s[i - 1];
    for (let j = 1; j <= t.length; j++) {
      const up = row[j]; // D[i-1][j]
      const d = Math.min(up + 1, row[j - 1] + 1, diagonal + (si === t[j - 1] ? 0 : 1));
      diagonal = up;
      row[j] = d;
      if (d < rowMin) rowMin = d;
    }
    if (rowMin > maxDistance) return maxDistance + 1; // distances never fall from one row to the next
  }
  return bound(row[t.length]);
}

/**
 * 1 − Levenshtein(pred, ref) / max(|pred|, |ref|) in code points; 1 for two empty strings.
 *
 * Chosen over fuzzywuzzy's `fuzz.ratio` (CodeXGLUE, CrossCodeEval): ratio is 2·M / (|a| + |b|) with M from
 * python-Levenshtein's indel alignment — or from difflib's SequenceMatcher, with its junk heuristic, when
 * python-Levenshtein is not installed, so the same call gives different numbers on different machines — and
 * it is rounded to a whole percent, which hides the small differences between infill systems. Normalised
 * Levenshtein has one definition, no rounding, and counts a substitution as one edit.
 */
export function editSimilarity(prediction: string, reference: string): number {
  const longest = Math.max(codePoints(prediction).length, codePoints(reference).length);
  return longest === 0 ? 1 : 1 - levenshtein(prediction, reference) / longest;
}
