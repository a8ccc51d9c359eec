// Operating-system I/O failures (disk full, permission denied, device error …) as the project's errors:
// `error [IO_FAILED]: FILE: no space left on device (ENOSPC); <what to do>` instead of a raw stack trace.
// Writers whose syscalls take a file descriptor (fs.writeSync, fsync) get errors without a path, so
// they attach theirs with `withPath`; the job's top level then turns any such error into a HyperlmError
// with `asIoFailure`, adding what makes it safe to retry (the same command resumes). Unlike
// atomic-file.ts this file writes nothing: it only names failures.
import { HyperlmError } from '../errors.js';

/** errno codes that mean "the machine could not store or read the bytes", not a bug in the caller. */
const IO_CODES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EFBIG: 'file too large',
  ENOTDIR: 'a path component is not a folder',
  EISDIR: 'is a folder',
};

interface ErrnoLike {
  code?: unknown;
  path?: unknown;
  dest?: unknown;
  syscall?: unknown;
}

/** True for a Node.js system error whose code is one of the I/O failures above. */
export function isIoFailure(err: unknown): boolean {
  const code = (err as ErrnoLike | null)?.code;
  return err instanceof Error && typeof code === 'string' && code in IO_CODES;
}

/** Records `file` on a system error that lacks a path (fd-based syscalls), then returns the error. */
export function withPath<E>(err: E, file: string): E {
  if (err instanceof Error && (err as ErrnoLike).path === undefined && isIoFailure(err)) (err as ErrnoLike).path = file;
  return err;
}

/**
 * `err` as HyperlmError('IO_FAILED') naming its file and ending with `remedy`, when it is an I/O
 * failure; any other error is returned unchanged. `fallbackFile` names the file when the error has none.
 */
export function asIoFailure(err: unknown, remedy: string, fallbackFile?: string): unknown {
  if (!isIoFailure(err)) return err;
  const e = err as Error & ErrnoLike;
  const code = e.code as string;
  const file = typeof e.path === 'string' ? e.path : (fallbackFile ?? '(unknown file)');
  const what = typeof e.syscall === 'string' ? ` during ${e.syscall}` : '';
  return new HyperlmError('IO_FAILED', `${file}: ${IO_CODES[code]} (${code}${what}); ${remedy}`, { cause: err });
}
