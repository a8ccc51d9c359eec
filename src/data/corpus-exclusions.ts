// What the training corpus must never contain: the packages reserved for evaluation by the house rules,
// the packages of the development evaluation set (../shared/eval/SOURCES.md, package names only: every
// version of them is excluded, since versions share most of their code), and copies of them that other
// packages vendor. `checkPinnedList` refuses a pinned list that names one; `vendoredCopy` flags a file
// inside an allowed package whose path says it is a copy of one (`vendor/jquery.js`, `three.module.js`).
// The sibling corpus-filter.ts holds the quality filters; this file holds only the contamination guard.

import { HyperlmError } from '../errors.js';

/** npm packages reserved for evaluation (house rules), and aliases that publish the same code. */
export const RESERVED_NPM: readonly string[] = [
  'dayjs', 'fastify', 'handlebars', 'koa', 'luxon', 'mobx', 'preact', 'ramda', '@tanstack/query-core', 'three',
  'underscore', 'ws',
];

/** npm packages of the development evaluation set (../shared/eval/SOURCES.md, "Code part"). */
export const EVAL_NPM: readonly string[] = ['knex', 'joi', 'postcss', 'pino', 'jquery', 'webpack', 'mocha'];

/** Other names that publish (nearly) the same code as an excluded package: refused as well. */
export const EXCLUDED_ALIASES_NPM: readonly string[] = [
  '@hapi/joi', // joi before it was renamed
  'three-stdlib', // three's examples/jsm, republished
  'super-three', // A-Frame's fork of three
];

/** Debian packages reserved for evaluation (house rules); entries ending in `*` are prefixes. */
export const RESERVED_DEBIAN: readonly string[] = ['apache2-doc', 'debian-handbook', 'freedombox-doc-en', 'grass-doc', 'libreoffice-help-*'];

/** Debian packages of the development evaluation set (../shared/eval/SOURCES.md, "HTML part"). */
export const EVAL_DEBIAN: readonly string[] = ['kicad-doc-en', 'gnucash-docs', 'sphinx-doc', 'sqlite3-doc', 'octave-doc'];

function matches(name: string, pattern: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** Why an npm name may not be used, or undefined when it may. `@types/X` of an excluded X is refused too. */
export function npmExclusion(name: string): string | undefined {
  const base = name.startsWith('@types/') ? name.slice('@types/'.length).replace(/^(.+)__(.+)$/, '@$1/$2') : name;
  if (RESERVED_NPM.includes(base)) return 'reserved for evaluation (house rules)';
  if (EVAL_NPM.includes(base)) return 'in the evaluation set (../shared/eval/SOURCES.md)';
  if (EXCLUDED_ALIASES_NPM.includes(base)) return 'publishes the code of an excluded package';
  return undefined;
}

/** Why a Debian package may not be used, or undefined when it may. */
export function debianExclusion(name: string): string | undefined {
  if (RESERVED_DEBIAN.some((p) => matches(name, p))) return 'reserved for evaluation (house rules)';
  if (EVAL_DEBIAN.includes(name)) return 'in the evaluation set (../shared/eval/SOURCES.md)';
  return undefined;
}

/** Throws CORPUS_EXCLUDED_PACKAGE naming the first excluded package of a pinned list. */
export function checkPinnedList(list: { npm: readonly { name: string }[]; debian: readonly { name: string; companions?: readonly { name: string }[] }[] }, file: string): void {
  for (const p of list.npm) {
    const why = npmExclusion(p.name);
    if (why) throw new HyperlmError('CORPUS_EXCLUDED_PACKAGE', `${file}: npm package "${p.name}" is ${why}; remove it from the list`);
  }
  for (const p of list.debian) {
    for (const name of [p.name, ...(p.companions ?? []).map((c) => c.name)]) {
      const why = debianExclusion(name);
      if (why) throw new HyperlmError('CORPUS_EXCLUDED_PACKAGE', `${file}: Debian package "${name}" is ${why}; remove it from the list`);
    }
  }
}

/** File stems that name an excluded package's main file: `jquery`, `jquery.min`, `jquery-3.7.1`, `three.module`. */
const VENDORED_STEMS = [...RESERVED_NPM, ...EVAL_NPM].filter((n) => !n.includes('/'));

/**
 * True when a path inside an allowed package is a vendored copy of an excluded package: a folder named
 * exactly like one (`vendor/jquery/…`, `node_modules/ws/…`), or a file named `<name>.js`, `<name>.<x>.js`
 * or `<name>-<version>.js` (only for names of 5+ characters, so that `ws.js` or `koa.js` of a package's
 * own transport layer is not caught by accident: exact folder names still are).
 */
export function vendoredCopy(relPath: string): boolean {
  const parts = relPath.toLowerCase().split('/');
  const file = parts.pop() ?? '';
  if (parts.some((d) => VENDORED_STEMS.includes(d))) return true;
  const stem = file.replace(/\.[cm]?[jt]sx?$/, '');
  return VENDORED_STEMS.some((n) => {
    if (n.length < 5 || !stem.startsWith(n)) return false;
    const rest = stem.slice(n.length);
    return rest === '' || rest.startsWith('.') || /^-\d/.test(rest) || rest === '-min';
  });
}
