// Page-chrome detection for the minimizer (HTLM §2.1 removes headers, footers, navigation,
// copyright and cookie notices): decisions made from a tag and its attributes at open time, the
// copyright test made at close time, and the `<meta>` filter. minimize.ts applies them.

import type { MinimizeRules } from './minimize-config.js';

/** Stat key of the boilerplate rule that drops this element, or undefined to keep it. */
export function boilerplateRule(
  tag: string,
  attribs: Record<string, string>,
  insideSectioning: boolean,
  rules: MinimizeRules,
): string | undefined {
  if (rules.boilerplateTags.has(tag)) {
    // `<header>`/`<footer>` inside an article or section is that article's title block, not chrome.
    if (!(insideSectioning && (tag === 'header' || tag === 'footer'))) return 'boilerplate-tag';
  }
  if (tag === 'html' || tag === 'head' || tag === 'body' || tag === 'main') return undefined;
  const role = attribs.role;
  if (role !== undefined && rules.roles.has(role.trim().toLowerCase())) return 'boilerplate-role';
  if (rules.hints.size > 0) {
    if (hasHint(attribs.class, rules.hints) || hasHint(attribs.id, rules.hints)) return 'boilerplate-hint';
  }
  return undefined;
}

const HINT_SPLIT = /[\s_-]+/;

function hasHint(value: string | undefined, hints: Set<string>): boolean {
  if (value === undefined || value.length === 0 || value.length > 512) return false;
  for (const word of value.toLowerCase().split(HINT_SPLIT)) {
    if (word.length > 0 && hints.has(word)) return true;
  }
  return false;
}

const COPYRIGHT = /^(?:©|\(c\)|copyright\s*(?:©|\(c\)|\d{4})|all rights reserved)/i;

/** Short text that opens with a copyright mark is a footer line wherever it sits. */
export function isCopyrightLine(firstText: string, nonSpaceChars: number, maxChars: number): boolean {
  return maxChars > 0 && nonSpaceChars <= maxChars && COPYRIGHT.test(firstText);
}

/** The whitelisted attributes of a `<meta>` worth keeping, or undefined to drop it. */
export function keptMeta(attribs: Record<string, string>, rules: MinimizeRules): Record<string, string> | undefined {
  const key = (attribs.name ?? attribs.property ?? '').trim().toLowerCase();
  if (key.length === 0 || attribs.content === undefined) return undefined;
  const wanted = rules.options.metaNames.some((n) => (n.endsWith(':') ? key.startsWith(n) : key === n));
  if (!wanted) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(attribs)) {
    if (rules.metaAttributes.has(name)) out[name] = value;
  }
  return out;
}
