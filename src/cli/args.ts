// Command-line parsing shared by every script: node:util parseArgs plus generated `--help` text, and
// errors that name the flag or value at fault. Scripts declare their flags once, as data.
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/choices.js';
import { HyperlmError } from '../errors.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Shown in --help. */
  help: string;
  /** Value placeholder in --help, e.g. `N` or `DIR`. */
  arg?: string;
  multiple?: boolean;
  short?: string;
  /** Shown in --help as the default (the default itself is applied by the script's config). */
  default?: string;
}

export interface CommandSpec {
  /** `npm run NAME --` usage line, without flags. */
  usage: string;
  summary: string;
  flags: Record<string, FlagSpec>;
  /** Whether bare words (positionals) are accepted. */
  positionals?: boolean;
  /** Extra paragraphs after the flag table (examples, formats). */
  epilog?: string;
}

/** Flags several commands share, declared once. */
export const COMMON_FLAGS = {
  backend: { type: 'string', arg: BACKEND_CHOICES.join('|'), help: 'compute backend', default: 'auto' },
  noWrite: { type: 'boolean', help: 'print only; leave BENCHMARKS.md alone' },
} as const satisfies Record<string, FlagSpec>;

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function helpText(spec: CommandSpec): string {
  const rows = Object.entries(spec.flags).map(([name, f]) => {
    const left = `  ${f.short ? `-${f.short}, ` : ''}--${name}${f.type === 'string' ? ` ${f.arg ?? 'VALUE'}` : ''}`;
    const def = f.default !== undefined ? ` (default: ${f.default})` : '';
    const many = f.multiple ? ' (repeatable)' : '';
    return [left, `${f.help}${many}${def}`] as const;
  });
  rows.push(['  -h, --help', 'show this help']);
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = rows.map(([l, r]) => (l.length >= width ? `${l}\n${' '.repeat(width)}${r}` : l.padEnd(width) + r));
  const text = [
    `Usage: ${spec.usage}`,
    '',
    spec.summary,
    '',
    'Options:',
    ...lines,
    ...(spec.epilog ? ['', spec.epilog] : []),
  ].join('\n');
  // run as `hyperlm SUBCOMMAND` (src/cli/main.ts): show the commands that way
  return process.env.HYPERLM_CLI === '1'
    ? text.replace(/npm run ([\w:-]+) --( |$)/gm, 'hyperlm $1$2').replace(/npm run ([\w:-]+)/g, 'hyperlm $1')
    : text;
}

/**
 * Parses argv against the spec. `--help` prints the help and exits 0; an unknown flag or a missing
 * value is a HyperlmError('CLI_BAD_FLAG') that names it.
 */
export function parseCommandLine(spec: CommandSpec, argv: string[] = process.argv.slice(2)): ParsedArgs {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText(spec) + '\n');
    process.exit(0);
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = { type: f.type, ...(f.multiple ? { multiple: true } : {}), ...(f.short ? { short: f.short } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options,
      allowPositionals: spec.positionals ?? false,
      strict: true,
    });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new HyperlmError('CLI_BAD_FLAG', `${message}\nRun with --help for the list of flags.`);
  }
}

/** Parses a flag value as a number within bounds, naming the flag when it is not one. */
export function numberFlag(
  values: ParsedArgs['values'],
  name: string,
  fallback: number,
  opts: { integer?: boolean; min?: number; max?: number } = {},
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const bad =
    typeof raw !== 'string' ||
    raw.trim() === '' ||
    !Number.isFinite(n) ||
    (opts.integer && !Number.isInteger(n)) ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max);
  if (bad) {
    const range = [
      opts.integer ? 'an integer' : 'a number',
      opts.min !== undefined ? `≥ ${opts.min}` : '',
      opts.max !== undefined ? `≤ ${opts.max}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    throw new HyperlmError('CLI_BAD_FLAG', `--${name} must be ${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Parses a flag whose value must be one of a fixed set. */
export function choiceFlag<T extends string>(
  values: ParsedArgs['values'],
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new HyperlmError('CLI_BAD_FLAG', `--${name} must be one of ${choices.join('|')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** Runs a script's main, printing a HyperlmError as one clear line (exit 2) instead of a stack trace. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof HyperlmError) {
      process.stderr.write(`error [${err.code}]: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  });
}

/** The `--backend` flag of COMMON_FLAGS: one of BACKEND_CHOICES, 'auto' when absent. */
export function backendFlag(values: ParsedArgs['values']): BackendChoice {
  return choiceFlag(values, 'backend', BACKEND_CHOICES, 'auto');
}
