// HTML → Minimal-HTML (HTLM §2.1) with the CM3 §2.1 attribute policy. One streaming pass of
// htmlparser2's `Parser` builds a small tree (serialize.ts) and applies every rule as elements
// close, so the work is post-order without recursion: dropped tags, comments, boilerplate
// (boilerplate.ts), attribute whitelist and caps, min-text pruning, div folding, whitespace.
// Title and kept metas move into `<head>`; everything else lands in `<body>`.

import { Parser } from 'htmlparser2';
import { HyperlmError } from '../errors.js';
import { boilerplateRule, isCopyrightLine, keptMeta } from './boilerplate.js';
import type { MinimizedDocument } from '../data/document.js';
import { compileMinimizeRules, type MinimizeOptions, type MinimizeRules } from './minimize-config.js';
import { collapseSpace, normalizeChildren, serializeTree, trimSpace, type MinElement } from './serialize.js';

export { DEFAULT_MINIMIZE, resolveMinimizeOptions, type MinimizeOptions } from './minimize-config.js';

/** Text under these never counts as visible (HTLM's text-to-HTML ratio). */
const INVISIBLE = new Set(['script', 'style', 'noscript', 'template']);
const UNWRAP = new Set(['html', 'head', 'body']);
const SECTIONING = new Set(['article', 'section']);
const SAFE_TAG = /^[a-z][a-z0-9._:-]*$/;

type Stats = MinimizedDocument['stats'];

interface Frame {
  /** 'keep': `el` is this element; 'unwrap': `el` is the parent's container; 'drop'/'title': no element. */
  mode: 'keep' | 'unwrap' | 'drop' | 'title';
  el: MinElement;
  verbatim: boolean;
  sectioning: boolean;
  invisible: boolean;
  /** Non-whitespace characters of kept text below this element (min-text and copyright rules). */
  nonSpace: number;
  /** Holds a kept `<img alt>` or a protected tag: the min-text rule leaves it alone. */
  protect: boolean;
  /** The first words of its text, for the copyright test. */
  firstText: string;
  /** Source offset of the start tag and the rule that dropped it (mode 'drop' roots). */
  start: number;
  dropRule?: string;
}

function bump(stats: Stats, rule: string, chars: number, nodes = 1): void {
  const s = (stats[rule] ??= { nodes: 0, chars: 0 });
  s.nodes += nodes;
  s.chars += chars;
}

/** Count non-whitespace chars and whitespace runs (a collapsed run counts as one visible char). */
function countText(text: string): { nonSpace: number; runs: number } {
  let nonSpace = 0;
  let runs = 0;
  let inRun = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13 || c === 12) {
      if (!inRun) runs++;
      inRun = true;
    } else {
      nonSpace++;
      inRun = false;
    }
  }
  return { nonSpace, runs };
}

/** Collapse, trim and cap an attribute value (NUL becomes U+FFFD as in the HTML spec). */
function cleanAttr(value: string, max: number, stats: Stats): string {
  let v = trimSpace(collapseSpace(value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value));
  if (v.length > max) {
    bump(stats, 'attr-truncated', v.length - max);
    v = trimSpace(v.slice(0, max), false, true);
  }
  return v;
}

/** The largest candidate of a `srcset` ("a.png 1x, b.png 2x" / "a.png 480w, b.png 800w"). */
export function largestSrcsetCandidate(srcset: string): string | undefined {
  let best: string | undefined;
  let bestSize = -1;
  for (const candidate of srcset.split(/,\s+/)) {
    const [url, descriptor] = candidate.trim().split(/\s+/, 2);
    if (url === undefined || url.length === 0) continue;
    const size = descriptor === undefined ? 1 : Number.parseFloat(descriptor);
    if (Number.isFinite(size) && size > bestSize) {
      best = url;
      bestSize = size;
    }
  }
  return best;
}

function mergeDivAttrs(
  outer: Record<string, string>,
  inner: Record<string, string>,
  max: number,
): Record<string, string> {
  const merged = { ...inner, ...outer };
  if (outer.class !== undefined && inner.class !== undefined) {
    merged.class = [...new Set(`${outer.class} ${inner.class}`.split(' '))].join(' ').slice(0, max);
    merged.class = trimSpace(merged.class, false, true);
  }
  return merged;
}

/** Minimize one HTML page; throws DOC_EMPTY, DOC_LOW_TEXT_RATIO or DOC_TOO_LARGE (counted skips). */
export function minimizeHtml(html: string, options: MinimizeOptions, source: string): MinimizedDocument {
  if (html.trim().length === 0) throw new HyperlmError('DOC_EMPTY', `${source}: empty HTML document`);
  const rules: MinimizeRules = compileMinimizeRules(options);
  const stats: Stats = {};
  const body: MinElement = { tag: 'body', attrs: {}, children: [] };
  const head: MinElement = { tag: 'head', attrs: {}, children: [] };
  const htmlAttrs: Record<string, string> = {};
  let title: string | undefined;
  let titleText = '';
  let baseHref: string | undefined;
  let visible = 0;

  const base: Frame = {
    mode: 'keep',
    el: body,
    verbatim: false,
    sectioning: false,
    invisible: false,
    nonSpace: 0,
    protect: false,
    firstText: '',
    start: 0,
  };
  const stack: Frame[] = [base];
  const keepAttrs = (tag: string, attribs: Record<string, string>): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name in attribs) {
      const value = attribs[name];
      if (rules.attributes.has(name)) out[name] = cleanAttr(value, options.maxAttrLength, stats);
      else if (!(tag === 'img' && (name === 'src' || name === 'srcset' || name === 'data-src'))) {
        bump(stats, 'attribute', name.length + value.length);
      }
    }
    return out;
  };

  const parser: Parser = new Parser(
    {
      onopentag(tag, attribs) {
        if (stack.length > options.maxDepth) {
          throw new HyperlmError(
            'DOC_TOO_LARGE',
            `${source}: elements nested deeper than maxDepth ${options.maxDepth}`,
          );
        }
        const parent = stack[stack.length - 1];
        const frame: Frame = {
          mode: 'keep',
          el: parent.el,
          verbatim: parent.verbatim,
          sectioning: parent.sectioning,
          invisible: parent.invisible || INVISIBLE.has(tag),
          nonSpace: 0,
          protect: false,
          firstText: '',
          start: parser.startIndex,
        };
        stack.push(frame);
        if (parent.mode === 'drop' || parent.mode === 'title') {
          frame.mode = 'drop';
          return;
        }
        if (tag === 'base' && baseHref === undefined && attribs.href !== undefined) baseHref = attribs.href.trim();
        if (tag === 'title') {
          frame.mode = 'title';
          titleText = '';
          return;
        }
        if (tag === 'meta') {
          const meta = keptMeta(attribs, rules);
          frame.mode = 'drop';
          if (meta === undefined) frame.dropRule = 'meta';
          else {
            const attrs: Record<string, string> = {};
            for (const name in meta) attrs[name] = cleanAttr(meta[name], options.maxAttrLength, stats);
            head.children.push({ tag: 'meta', attrs, children: [] });
          }
          return;
        }
        if (rules.drop.has(tag) || tag === 'base') {
          frame.mode = 'drop';
          frame.dropRule = 'tag';
          return;
        }
        if (UNWRAP.has(tag) || !SAFE_TAG.test(tag)) {
          frame.mode = 'unwrap';
          if (tag === 'html') Object.assign(htmlAttrs, keepAttrs(tag, attribs));
          return;
        }
        const chrome = parent.verbatim ? undefined : boilerplateRule(tag, attribs, parent.sectioning, rules);
        if (chrome !== undefined) {
          frame.mode = 'drop';
          frame.dropRule = chrome;
          return;
        }
        const el: MinElement = { tag, attrs: keepAttrs(tag, attribs), children: [] };
        if (tag === 'img') {
          const src =
            (attribs.src ?? attribs['data-src'] ?? '').trim() ||
            (attribs.srcset === undefined ? undefined : largestSrcsetCandidate(attribs.srcset));
          if (options.imageSlots && src !== undefined && src.length > 0 && src.length <= options.maxImageSrcLength) {
            el.image = { src };
          }
          if (el.image === undefined && !el.attrs.alt) {
            frame.mode = 'drop';
            frame.dropRule = 'img-empty';
            return;
          }
          frame.protect = Boolean(el.attrs.alt);
        }
        frame.el = el;
        frame.verbatim ||= rules.verbatim.has(tag);
        frame.sectioning ||= SECTIONING.has(tag);
        frame.protect ||= rules.protect.has(tag);
        parent.el.children.push(el);
      },

      ontext(raw) {
        const text = raw.includes('\0') ? raw.replaceAll('\0', '\uFFFD') : raw;
        const frame = stack[stack.length - 1];
        const counted = countText(text);
        if (!frame.invisible) visible += counted.nonSpace + counted.runs;
        if (frame.mode === 'title') titleText += text;
        if (frame.mode === 'drop') return;
        if (frame.mode === 'title') return;
        const children = frame.el.children;
        const last = children.length - 1;
        if (last >= 0 && typeof children[last] === 'string') children[last] += text;
        else children.push(text);
        frame.nonSpace += counted.nonSpace;
        if (frame.firstText === '' && counted.nonSpace > 0) frame.firstText = text.trimStart().slice(0, 40);
      },

      oncomment(data) {
        if (stack[stack.length - 1].mode !== 'drop') bump(stats, 'comment', data.length + 7);
      },

      onclosetag() {
        if (stack.length === 1) return;
        const frame = stack.pop()!;
        const parent = stack[stack.length - 1];
        const spanChars = Math.max(0, parser.endIndex + 1 - frame.start);
        if (frame.mode === 'drop') {
          if (frame.dropRule !== undefined) bump(stats, frame.dropRule, spanChars);
          return;
        }
        if (frame.mode === 'title') {
          if (title === undefined) title = trimSpace(collapseSpace(titleText));
          return;
        }
        if (frame.mode === 'keep') {
          const el = frame.el;
          if (!frame.verbatim) {
            const removed = normalizeChildren(el);
            if (removed > 0) bump(stats, 'whitespace', removed, 0);
          }
          const rule = closeRule(el, frame, rules);
          if (rule !== undefined) {
            parent.el.children.pop();
            bump(stats, rule, spanChars);
            return;
          }
          const only = el.children.length === 1 ? el.children[0] : undefined;
          if (options.foldDivs && el.tag === 'div' && typeof only === 'object' && only.tag === 'div') {
            el.attrs = mergeDivAttrs(el.attrs, only.attrs, options.maxAttrLength);
            el.children = only.children;
            bump(stats, 'div-fold', 11);
          }
        }
        parent.nonSpace += frame.nonSpace;
        parent.protect ||= frame.protect;
        if (parent.firstText === '') parent.firstText = frame.firstText;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.end(html);

  const textRatio = visible / html.length;
  if (textRatio < options.minTextRatio) {
    throw new HyperlmError(
      'DOC_LOW_TEXT_RATIO',
      `${source}: text-to-HTML ratio ${textRatio.toFixed(3)} is below minTextRatio ${options.minTextRatio}`,
    );
  }
  // Elements left open at the end were closed by the parser; the base frame is body itself.
  const removed = normalizeChildren(body);
  if (removed > 0) bump(stats, 'whitespace', removed, 0);
  if (title !== undefined && title.length > 0) head.children.unshift({ tag: 'title', attrs: {}, children: [title] });
  if (body.children.length === 0 && head.children.length === 0) {
    throw new HyperlmError('DOC_EMPTY', `${source}: nothing left after minimization`);
  }
  const root: MinElement = {
    tag: 'html',
    attrs: htmlAttrs,
    children: head.children.length > 0 ? [head, body] : [body],
  };
  const { segments, images } = serializeTree(root);
  const doc: MinimizedDocument = { segments, images, stats, textRatio };
  if (baseHref !== undefined && baseHref.length > 0) doc.baseHref = baseHref;
  return doc;
}

/** The close-time drop rule for a kept element: a short copyright line or too little text (HTLM). */
function closeRule(el: MinElement, frame: Frame, rules: MinimizeRules): string | undefined {
  if (frame.protect || frame.verbatim) return undefined;
  const o = rules.options;
  if (el.tag !== 'main' && isCopyrightLine(frame.firstText, frame.nonSpace, o.copyrightMaxChars)) return 'copyright';
  if (rules.minText.has(el.tag) && frame.nonSpace < o.minText) return 'min-text';
  if (rules.minTextShort.has(el.tag) && frame.nonSpace < o.minTextShort) return 'min-text';
  return undefined;
}
