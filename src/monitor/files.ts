/**
 * The files of a job folder, and only those.
 * 1. `resolveInFolder`: a path inside the folder, checked after resolving
 *    symlinks (realpath), so no link or `..` reaches outside it.
 * 2. `listFiles`: the folder's tree with sizes (symlinks listed, never followed).
 * 3. `looksBinary`: whether a file is shown as text or offered for download.
 * 4. `zipFolder`: the folder as a zip stream, built while it is sent;
 *    symlinks are left out so the zip holds nothing from outside.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ZipArchive } from 'archiver';

/** Entries listed on a job page at most (a folder with more says so). */
export const MAX_LISTED = 2000;

export interface FileEntry {
  /** relative to the job folder, `/`-separated */
  path: string;
  kind: 'file' | 'dir' | 'link' | 'other';
  size: number;
  mtime: number;
}

/**
 * The real path of `segments` (already decoded, none of them `..`) inside
 * `folder`, or undefined when it does not exist or resolves outside it.
 */
export async function resolveInFolder(folder: string, segments: string[]): Promise<string | undefined> {
  try {
    const root = await fs.realpath(folder);
    const real = await fs.realpath(path.join(root, ...segments));
    return real === root || real.startsWith(root + path.sep) ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Walks the folder breadth-first; `truncated` when it holds more than MAX_LISTED entries. */
export async function listFiles(folder: string): Promise<{ entries: FileEntry[]; truncated: boolean }> {
  const entries: FileEntry[] = [];
  const dirs = [''];
  while (dirs.length > 0) {
    const rel = dirs.shift()!;
    const names = (await fs.readdir(path.join(folder, rel)).catch(() => [] as string[])).sort();
    for (const name of names) {
      if (entries.length >= MAX_LISTED) return { entries, truncated: true };
      const relPath = rel ? `${rel}/${name}` : name;
      const stat = await fs.lstat(path.join(folder, relPath)).catch(() => undefined);
      if (!stat) continue;
      const kind = stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'link' : 'other';
      entries.push({ path: relPath, kind, size: stat.size, mtime: stat.mtimeMs });
      if (kind === 'dir') dirs.push(relPath);
    }
  }
  return { entries, truncated: false };
}

/** A NUL byte or invalid UTF-8 in the first bytes: not text. */
export function looksBinary(head: Buffer): boolean {
  if (head.includes(0)) return true;
  // a cut at the end of the sample may split one character: ignore the last 3 bytes
  const sample = head.subarray(0, Math.max(0, head.length - 3));
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample);
    return false;
  } catch {
    return true;
  }
}

/** The first `max` bytes of a file and its size. */
export async function readHead(file: string, max: number): Promise<{ head: Buffer; size: number }> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(max, size));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return { head: head.subarray(0, bytesRead), size };
  } finally {
    await handle.close();
  }
}

/** Streams `folder` as a zip whose entries sit under `top/`. */
export function zipFolder(folder: string, top: string): Readable {
  const zip = new ZipArchive({ zlib: { level: 6 } });
  void (async () => {
    try {
      const dirs = [''];
      while (dirs.length > 0) {
        const rel = dirs.shift()!;
        for (const entry of await fs.readdir(path.join(folder, rel), { withFileTypes: true })) {
          const relPath = rel ? `${rel}/${entry.name}` : entry.name;
          if (entry.isDirectory()) dirs.push(relPath);
          else if (entry.isFile()) zip.file(path.join(folder, relPath), { name: `${top}/${relPath}` });
        }
      }
      await zip.finalize();
    } catch (err) {
      zip.destroy(err as Error);
    }
  })();
  return zip;
}
