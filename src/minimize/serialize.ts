// Canonical serialization of the minimizer's small tree (CM3 §2.1 layout): lowercase tags,
// `"`-quoted attributes in alphabetical order with minimal escaping, void elements without
// closers, whitespace collapsed outside verbatim elements, and `{ image: k }` slots inside the
// `src` attribute of kept images. Iterative throughout: documents may nest 100,000 deep.

import type { ImageRef, MinimizedDocument } from '../data/document.js';

/** One element of the minimized tree; text children are plain strings. */
export interface MinElement {
  tag: string;
  /** Whitelisted, whitespace-collapsed, length-capped attribute values. */
  attrs: Record<string, string>;
  children: Array<MinElement | string>;
  /** This `<img>` gets a `src` slot; numbered in document order when serialized. */
  image?: ImageRef;
}

export const VOID_TAGS = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);

/** Elements around which whitespace is insignificant when rendering, so it is trimmed. */
export const BLOCK_TAGS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'br',
  'caption',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'head',
  'header',
  'hgroup',
  'hr',
  'html',
  'li',
  'main',
  'meta',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'title',
  'tr',
  'ul',
]);

const HTML_SPACE_RUN = /[ \t\n\f\r]+/g;

export function collapseSpace(text: string): string {
  return text.replace(HTML_SPACE_RUN, ' ');
}

/** Trim HTML (ASCII) whitespace only: String.trim would also eat U+00A0, which is visible text. */
export function trimSpace(text: string, start = true, end = true): string {
  let a = 0;
  let b = text.length;
  const space = (c: number) => c === 32 || c === 10 || c === 9 || c === 13 || c === 12;
  if (start) while (a < b && space(text.charCodeAt(a))) a++;
  if (end) while (b > a && space(text.charCodeAt(b - 1))) b--;
  return a === 0 && b === text.length ? text : text.slice(a, b);
}

export function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}

export function escapeAttr(value: string): string {
  return value.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}

const isBlock = (node: MinElement | string | undefined): boolean =>
  node !== undefined && typeof node !== 'string' && BLOCK_TAGS.has(node.tag);

/**
 * Collapse whitespace in the direct text children of a non-verbatim element, trim it next to
 * block boundaries and drop what becomes empty. Adjacent strings are merged first (an element
 * between them may have been dropped). Returns the number of characters removed.
 */
export function normalizeChildren(el: MinElement): number {
  const merged: Array<MinElement | string> = [];
  let removed = 0;
  for (const child of el.children) {
    const last = merged.length - 1;
    if (typeof child === 'string' && last >= 0 && typeof merged[last] === 'string') merged[last] += child;
    else merged.push(child);
  }
  const blockParent = BLOCK_TAGS.has(el.tag);
  const out: Array<MinElement | string> = [];
  for (let i = 0; i < merged.length; i++) {
    const child = merged[i];
    if (typeof child !== 'string') {
      out.push(child);
      continue;
    }
    let text = collapseSpace(child);
    if ((i === 0 && blockParent) || isBlock(merged[i - 1])) text = trimSpace(text, true, false);
    if ((i === merged.length - 1 && blockParent) || isBlock(merged[i + 1])) text = trimSpace(text, false, true);
    removed += child.length - text.length;
    if (text.length > 0) out.push(text);
  }
  el.children = out;
  return removed;
}

/** Serialize a tree into text segments and image slots, numbering images in document order. */
export function serializeTree(root: MinElement): Pick<MinimizedDocument, 'segments' | 'images'> {
  const segments: MinimizedDocument['segments'] = [];
  const images: ImageRef[] = [];
  let parts: string[] = [];
  const stack: Array<MinElement | string> = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node === 'string') {
      parts.push(node);
      continue;
    }
    parts.push('<', node.tag);
    const names = Object.keys(node.attrs);
    if (node.image !== undefined) names.push('src');
    names.sort();
    for (const name of names) {
      if (name === 'src' && node.image !== undefined) {
        parts.push(' src="');
        segments.push(parts.join(''));
        segments.push({ image: images.length });
        images.push(node.image);
        parts = ['"'];
      } else {
        parts.push(' ', name, '="', escapeAttr(node.attrs[name]), '"');
      }
    }
    parts.push('>');
    if (VOID_TAGS.has(node.tag)) continue;
    stack.push(`</${node.tag}>`);
    for (let i = node.children.length - 1; i >= 0; i--) {
      const child = node.children[i];
      stack.push(typeof child === 'string' ? escapeText(child) : child);
    }
  }
  if (parts.length > 0) segments.push(parts.join(''));
  return { segments, images };
}
