// The text a reader sees in a minimized document: what language identification and MinHash shingles
// look at, so that markup, attribute values and the image slots of CM3 (which differ between two copies
// of a page with different templates) do not count. Minimized HTML has no <script>/<style> bodies left
// (minimize.ts), so dropping tags and character references is enough. Code documents are their text.
import type { MinimizedDocument } from '../data/document.js';

/** Tags and character references become spaces; whitespace runs collapse. */
export function visibleText(min: MinimizedDocument, kind: 'html' | 'code'): string {
  const text = min.segments.filter((s): s is string => typeof s === 'string').join(' ');
  if (kind === 'code') return text;
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]*);/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The document as the exact-dedup hash sees it: every text segment and every image source, in order,
 * with separators that cannot occur in HTML text (so segment boundaries cannot be shifted into a collision).
 */
export function canonicalDocument(min: MinimizedDocument): string {
  return min.segments
    .map((s) => (typeof s === 'string' ? s : `\u0000img:${min.images[s.image]?.src ?? ''}\u0000`))
    .join('\u0001');
}
