// The parts of a raw HTML page that the text baselines read: its headings (h1–h6) in document order, its
// visible body text (no head, scripts, styles, templates; whitespace collapsed) and its images, each with
// the nearest heading that closed before it. One htmlparser2 pass over the page as it is on disk (the
// task files' `img_src` is "exactly as it appears in the page", so images are matched before any
// minimization). Unlike src/minimize (which rewrites a page for the model), nothing is dropped here
// except what a browser would not show.

import { Parser } from 'htmlparser2';

export interface PageImage {
  src: string;
  alt: string;
  /** Text of the last h1–h6 that ended before this image, '' when there is none. */
  headingBefore: string;
}

export interface PageOutline {
  headings: string[];
  bodyText: string;
  images: PageImage[];
}

const INVISIBLE = new Set(['script', 'style', 'noscript', 'template', 'head', 'title']);
const HEADING = /^h[1-6]$/;
/** Elements whose boundaries separate words even without whitespace in the source (`<td>a</td><td>b</td>`). */
const BLOCK = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'br',
  'caption',
  'dd',
  'details',
  'div',
  'dl',
  'dt',
  'figcaption',
  'figure',
  'footer',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'tbody',
  'td',
  'tfoot',
  'th',
  'thead',
  'tr',
  'ul',
  'summary',
]);

export function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Headings, visible text and images of one page (see the file comment). */
export function pageOutline(html: string): PageOutline {
  const headings: string[] = [];
  const images: PageImage[] = [];
  const text: string[] = [];
  let invisible = 0;
  let heading: string[] | null = null;
  let headingDepth = 0;
  let lastHeading = '';
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (INVISIBLE.has(name)) invisible++;
        if (BLOCK.has(name)) text.push(' ');
        if (HEADING.test(name)) {
          if (headingDepth++ === 0) heading = [];
        } else if (name === 'img' && attrs.src !== undefined) {
          images.push({ src: attrs.src, alt: attrs.alt ?? '', headingBefore: lastHeading });
        }
      },
      ontext(data) {
        if (invisible > 0) return;
        text.push(data);
        if (heading) heading.push(data);
      },
      onclosetag(name) {
        if (INVISIBLE.has(name)) invisible = Math.max(0, invisible - 1);
        if (BLOCK.has(name)) text.push(' ');
        if (HEADING.test(name) && headingDepth > 0 && --headingDepth === 0 && heading) {
          const h = collapseWhitespace(heading.join(''));
          heading = null;
          if (h !== '') {
            headings.push(h);
            lastHeading = h;
          }
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  return { headings, bodyText: collapseWhitespace(text.join('')), images };
}

/** The first `n` whitespace-separated words of a text. */
export function firstWords(text: string, n: number): string {
  return text.split(/\s+/).filter(Boolean).slice(0, n).join(' ');
}

/** A file name as words: directory and extension dropped, dashes, underscores and dots to spaces. */
export function humanizeFileName(src: string): string {
  const base = decodeURIComponentSafe(src.split(/[?#]/)[0].split('/').pop() ?? '');
  const stem = base.includes('.') ? base.slice(0, base.lastIndexOf('.')) : base;
  return collapseWhitespace(stem.replace(/[-_.]+/g, ' '));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
