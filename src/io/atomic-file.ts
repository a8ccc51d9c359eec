// Atomic file writes: write a temp file beside the target, fsync it, rename it over the target, fsync
// the folder. A reader (or a rerun after SIGKILL) sees the old file or the new one, never a torn one.
import { open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { withPath } from './io-failure.js';

export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw withPath(err, tmp);
  }
  await fh.close();
  await rename(tmp, path);
  await syncDir(dirname(path));
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** fsync a folder so that a rename in it survives a crash (a no-op where the platform refuses). */
export async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems do not allow fsync on a directory; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}
