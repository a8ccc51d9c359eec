// Typed options for HTML minimization (HTLM §2.1 "Minimal-HTML", CM3 §2.1 attribute policy):
// the defaults with the reason for each, and `resolveMinimizeOptions`, which checks a partial
// config once at the boundary. The rules themselves live in minimize.ts and boilerplate.ts.

import { HyperlmError } from '../errors.js';

export interface MinimizeOptions {
  /** Subtrees dropped outright: executable, interactive or non-textual content. */
  dropTags: string[];
  /** Page-chrome elements dropped by tag (`header`/`footer` only outside `article`/`section`). */
  boilerplateTags: string[];
  /** ARIA roles that mark page chrome. */
  boilerplateRoles: string[];
  /** Words in `class`/`id` (split on `-`, `_`, spaces) that mark page chrome. */
  boilerplateHints: string[];
  /** Elements whose whole text is at most this many non-space chars and starts with ©/Copyright are dropped; 0 disables. */
  copyrightMaxChars: number;
  /** HTLM: containers with less visible text than this (non-space chars) are dropped. */
  minText: number;
  /** Containers the `minText` rule applies to. */
  minTextTags: string[];
  /** HTLM: the lower threshold for lists and tables. */
  minTextShort: number;
  /** Containers the `minTextShort` rule applies to. */
  minTextShortTags: string[];
  /** Subtrees holding one of these are never dropped by the min-text rule (kept `<img alt>` always protects). */
  protectTags: string[];
  /** Fold a `<div>` whose only child is a `<div>` into one element (HTLM). */
  foldDivs: boolean;
  /** Attributes kept on every element (CM3 whitelist); everything else is dropped. */
  attributes: string[];
  /** Extra attributes kept on `<meta>`. */
  metaAttributes: string[];
  /** `<meta>` kept when its name/property equals one of these, or starts with one ending in `:`. */
  metaNames: string[];
  /** Attribute values longer than this are cut (counted in stats as `attr-truncated`). */
  maxAttrLength: number;
  /** `src` values longer than this (huge `data:` URIs) are not turned into image slots. */
  maxImageSrcLength: number;
  /** Text under these is kept verbatim: no whitespace collapsing, no trimming. */
  verbatimTags: string[];
  /** Pages whose visible-text / HTML length ratio is below this are skipped (HTLM uses 0.46 on CC). */
  minTextRatio: number;
  /** Deeper element nesting is skipped as DOC_TOO_LARGE: htmlparser2 keeps its open-element stack with
   *  `unshift`, so parse time grows with depth² (fine at tens of thousands, minutes-scale beyond). */
  maxDepth: number;
  /** Emit `{ image: k }` slots inside `<img src="…">` (CM3); false keeps alt/title only. */
  imageSlots: boolean;
}

export const DEFAULT_MINIMIZE: MinimizeOptions = {
  // why: none of these carry readable prose; `form` subtrees are mostly widgets (HTLM drops them);
  // xmp/plaintext/noembed are raw-text elements whose escaped text would not re-parse the same
  dropTags: [
    'script',
    'style',
    'noscript',
    'template',
    'iframe',
    'form',
    'svg',
    'canvas',
    'object',
    'embed',
    'applet',
    'link',
    'audio',
    'video',
    'source',
    'track',
    'map',
    'area',
    'button',
    'input',
    'select',
    'option',
    'frame',
    'frameset',
    'noframes',
    'noembed',
    'xmp',
    'plaintext',
    'dialog',
  ],
  // why: HTLM removes header/footer/navigation chrome; aside is sidebars
  boilerplateTags: ['header', 'footer', 'nav', 'aside'],
  // why: the ARIA landmark roles used for the same chrome when div soup replaces the tags
  boilerplateRoles: ['navigation', 'banner', 'contentinfo', 'complementary', 'search', 'menu', 'menubar'],
  // why: common class/id words for chrome; `header` is left out on purpose (section headers carry titles)
  boilerplateHints: [
    'nav',
    'navbar',
    'navigation',
    'navheader',
    'navfooter',
    'breadcrumb',
    'breadcrumbs',
    'footer',
    'sidebar',
    'sphinxsidebar',
    'cookie',
    'cookies',
    'consent',
    'copyright',
    'masthead',
    'menu',
    'related',
    'skip',
    'share',
    'social',
  ],
  // why: short "© 2024 Foo Inc." lines are pure boilerplate; long text starting with © is not
  copyrightMaxChars: 200,
  // why: HTLM §2.1 threshold for standard textual containers
  minText: 128,
  // why: HTLM applies min-text to block containers; p/h*/li/inline tags are content, not layout
  minTextTags: ['div', 'section', 'article'],
  // why: HTLM's 64-char threshold for lists/tables. `span` is left out by default: documentation
  // generators (Sphinx, DocBook) wrap every inline code word in a span and would lose them all.
  minTextShort: 64,
  minTextShortTags: ['ul', 'ol', 'dl', 'table'],
  // why: short code examples are the point of documentation pages; HTLM's rule would drop them
  protectTags: ['pre'],
  // why: HTLM folds nested divs; removes layout markup without touching text
  foldDivs: true,
  // why: CM3 keeps this whitelist; the rest (style, onclick, data-*) is noise for the model
  attributes: ['alt', 'title', 'href', 'class', 'id', 'lang'],
  // why: a meta is only useful with its name/property and content
  metaAttributes: ['content', 'name', 'property'],
  // why: description + OpenGraph + Twitter cards summarise the page (HTLM keeps them for prompting)
  metaNames: ['description', 'og:', 'twitter:'],
  // why: long hrefs/classes are rare but unbounded; 2048 covers real URLs
  maxAttrLength: 2048,
  // why: `data:` images are sometimes real figures; a megabyte is a sane upper bound for one
  maxImageSrcLength: 1_000_000,
  // why: whitespace is meaning in code
  verbatimTags: ['pre', 'code', 'textarea'],
  // why: documentation pages of /work/shared/corpus/html sit well below HTLM's 0.46, which would skip most
  // of them (BENCHMARKS.md). Below 0.02 sit only stubs (a title and inline CSS), so 0.02 skips those and
  // keeps every real page
  minTextRatio: 0.02,
  // why: real pages nest < 100 deep; 10k-deep unclosed tag soup still minimizes quickly, 100k is refused
  maxDepth: 25_000,
  // why: CM3 puts image tokens inside the src attribute
  imageSlots: true,
};

/** Merge a partial config over the defaults; unknown keys and wrong types name the key. */
export function resolveMinimizeOptions(partial: Record<string, unknown>): MinimizeOptions {
  const out: Record<string, unknown> = { ...DEFAULT_MINIMIZE };
  for (const [key, value] of Object.entries(partial)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_MINIMIZE, key)) {
      throw new HyperlmError('CONFIG_UNKNOWN_KEY', `minimize options: unknown key "${key}"`);
    }
    const def = (DEFAULT_MINIMIZE as unknown as Record<string, unknown>)[key];
    const bad = (want: string) =>
      new HyperlmError(
        'CONFIG_BAD_VALUE',
        `minimize options: "${key}" must be ${want}, got ${JSON.stringify(value) ?? String(value)}`,
      );
    if (Array.isArray(def)) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw bad('an array of strings');
      out[key] = value.map((v: string) => v.toLowerCase());
    } else if (typeof def === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw bad('a non-negative number');
      if (key !== 'minTextRatio' && !Number.isInteger(value)) throw bad('a non-negative integer');
      out[key] = value;
    } else if (typeof def === 'boolean') {
      if (typeof value !== 'boolean') throw bad('a boolean');
      out[key] = value;
    }
  }
  return out as unknown as MinimizeOptions;
}

/** The options as sets, built once per options object (minimizeHtml runs per page). */
export interface MinimizeRules {
  options: MinimizeOptions;
  drop: Set<string>;
  boilerplateTags: Set<string>;
  roles: Set<string>;
  hints: Set<string>;
  minText: Set<string>;
  minTextShort: Set<string>;
  protect: Set<string>;
  attributes: Set<string>;
  metaAttributes: Set<string>;
  verbatim: Set<string>;
}

const compiled = new WeakMap<MinimizeOptions, MinimizeRules>();

export function compileMinimizeRules(options: MinimizeOptions): MinimizeRules {
  let rules = compiled.get(options);
  if (rules === undefined) {
    rules = {
      options,
      drop: new Set(options.dropTags),
      boilerplateTags: new Set(options.boilerplateTags),
      roles: new Set(options.boilerplateRoles),
      hints: new Set(options.boilerplateHints),
      minText: new Set(options.minTextTags),
      minTextShort: new Set(options.minTextShortTags),
      protect: new Set(options.protectTags),
      attributes: new Set(options.attributes),
      metaAttributes: new Set(options.metaAttributes),
      verbatim: new Set(options.verbatimTags),
    };
    compiled.set(options, rules);
  }
  return rules;
}
