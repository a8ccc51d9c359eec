// Typed reads of request bodies: each read names its field, checks its type and range, and throws a
// ServeError (400) that names the field and the value — the message the protocol's error shape carries.
// Absent and null fields take the default; fields nobody reads are ignored, as upstream servers do.

import { ServeError } from './http.js';

export class Fields {
  private constructor(
    private readonly o: Record<string, unknown>,
    private readonly prefix: string,
  ) {}

  /** A body that must be a JSON object. */
  static of(body: unknown, prefix = ''): Fields {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ServeError(
        'SERVE_BAD_REQUEST',
        `${prefix ? `"${prefix.slice(0, -1)}"` : 'the request body'} must be a JSON object, got ${kind(body)}`,
        prefix.slice(0, -1) || undefined,
      );
    }
    return new Fields(body as Record<string, unknown>, prefix);
  }

  private path(name: string): string {
    return this.prefix + name;
  }

  bad(name: string, want: string, value: unknown): never {
    throw new ServeError(
      'SERVE_BAD_REQUEST',
      `"${this.path(name)}" must be ${want}, got ${show(value)}`,
      this.path(name),
    );
  }

  /** Present and not null. */
  has(name: string): boolean {
    return this.o[name] !== undefined && this.o[name] !== null;
  }

  raw(name: string): unknown {
    return this.o[name];
  }

  string(name: string, fallback?: string): string {
    const v = this.o[name];
    if (v === undefined || v === null) {
      if (fallback === undefined)
        throw new ServeError('SERVE_BAD_REQUEST', `"${this.path(name)}" is required`, this.path(name));
      return fallback;
    }
    return typeof v === 'string' ? v : this.bad(name, 'a string', v);
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.o[name];
    if (v === undefined || v === null) return fallback;
    return typeof v === 'boolean' ? v : this.bad(name, 'a boolean', v);
  }

  number(name: string, fallback: number, range: { min?: number; max?: number; integer?: boolean } = {}): number {
    const v = this.o[name];
    if (v === undefined || v === null) return fallback;
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (!range.integer || Number.isInteger(v)) &&
      (range.min === undefined || v >= range.min) &&
      (range.max === undefined || v <= range.max);
    if (!ok) {
      const bounds =
        range.min !== undefined && range.max !== undefined
          ? ` in [${range.min}, ${range.max}]`
          : range.min !== undefined
            ? ` ≥ ${range.min}`
            : range.max !== undefined
              ? ` ≤ ${range.max}`
              : '';
      this.bad(name, `${range.integer ? 'an integer' : 'a number'}${bounds}`, v);
    }
    return v as number;
  }

  /** A list of strings; with `single`, one string stands for a list of one (OpenAI's `stop`). */
  strings(name: string, opts: { single?: boolean } = {}): string[] {
    const v = this.o[name];
    if (v === undefined || v === null) return [];
    if (typeof v === 'string' && opts.single) return [v];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
      this.bad(name, opts.single ? 'a string or a list of strings' : 'a list of strings', v);
    return v as string[];
  }

  /** A nested object's fields, or undefined when absent. */
  object(name: string): Fields | undefined {
    const v = this.o[name];
    if (v === undefined || v === null) return undefined;
    return Fields.of(v, `${this.path(name)}.`);
  }
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
