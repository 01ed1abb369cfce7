/**
 * The QM folder layout (SPEC §1) and the moves between its folders.
 * 1. Names the four folders and creates them.
 * 2. Says which entries are temporary copies to ignore.
 * 3. Moves a job folder to QM_dJobs / QM_lost+found under a fresh
 *    `<ISO-seconds>-NAME`, never overwriting an earlier one (a name too long
 *    for that is cut).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomHex } from './random-hex.js';
import { ownedAsFolder } from './process-log.js';

export interface Layout {
  root: string;
  queued: string;
  running: string;
  done: string;
  lost: string;
  /** QM's private state (embedded Redis) */
  internal: string;
}

export function layoutOf(root: string): Layout {
  return {
    root,
    queued: path.join(root, 'QM_qJobs'),
    running: path.join(root, 'QM_Jobs'),
    done: path.join(root, 'QM_dJobs'),
    lost: path.join(root, 'QM_lost+found'),
    internal: path.join(root, '.qm'),
  };
}

/** The embedded Redis's socket (`qm start`), where short commands look for it. */
export function embeddedSocket(internalDir: string): string {
  return path.join(internalDir, 'redis.sock');
}

export async function ensureLayout(layout: Layout): Promise<void> {
  for (const dir of [layout.queued, layout.running, layout.done, layout.lost, layout.internal]) {
    await fs.mkdir(dir, { recursive: true });
  }
}

/** Temporary copies (`.x`, `x~`, `x.tmp`) are never jobs. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('~') || name.endsWith('.tmp');
}

/** `2026-11-24T10:02:03`: local time, to the second, as QM 0.4 users read it. */
export function isoSeconds(date: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** Longest job name (bytes) that fits in `<ISO-seconds>-NAME-NN` within a file name's 255 bytes. */
export const MAX_JOB_NAME_BYTES = 255 - '2026-11-24T10:02:03-'.length - '-99'.length;

/** `name`, cut on a character boundary to MAX_JOB_NAME_BYTES (only names refused as too long are cut). */
function fitName(name: string): string {
  let fitted = name;
  while (Buffer.byteLength(fitted) > MAX_JOB_NAME_BYTES) fitted = [...fitted].slice(0, -1).join('');
  return fitted;
}

/** Renames a running job's folder back into QM_qJobs; false when a queued job of that name is there. */
export async function backInQueue(layout: Layout, dir: string, name: string): Promise<boolean> {
  try {
    await fs.rename(dir, path.join(layout.queued, name));
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Renames `src` (a folder) into `destDir/<ISO>-<name>`, adding `-2`, `-3`...
 * when that exists. rename(2) refuses to replace a non-empty folder and job
 * folders are never empty here (process.log, QM_REASON.txt), so two movers
 * racing for one name cannot overwrite each other: the loser takes the next.
 * (An empty folder of that name, which no mover leaves, is replaced: no
 * lookup before each rename.) Returns the final path.
 */
export async function moveStamped(src: string, destDir: string, name: string, when = new Date()): Promise<string> {
  const base = `${isoSeconds(when)}-${fitName(name)}`;
  for (let n = 1; ; n++) {
    const target = path.join(destDir, n === 1 ? base : `${base}-${n}`);
    try {
      await fs.rename(src, target);
      return target;
    } catch (err) {
      // taken by a folder (ENOTEMPTY, EEXIST) or a file (ENOTDIR): the next name
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
    }
  }
}

/** Removes a folder, renamed hidden first (the rename wins or loses against a claim at once); false when it was gone. */
export async function removeFolder(folder: string): Promise<boolean> {
  const trash = path.join(path.dirname(folder), `.deleting-${randomHex(4)}-${path.basename(folder)}`);
  try {
    await fs.rename(folder, trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return false;
  }
  await fs.rm(trash, { recursive: true, force: true });
  return true;
}

/**
 * Moves a folder (or a lone file, wrapped in a folder) to QM_lost+found with a
 * QM_REASON.txt inside saying why. The reason is written before the move, so
 * whoever sees the folder there can read it.
 */
export async function moveToLostFound(layout: Layout, src: string, name: string, reason: string): Promise<string> {
  const stat = await fs.lstat(src);
  const folder = stat.isDirectory() ? src : await wrapInFolder(src, layout.lost);
  const note = await fs.open(path.join(folder, 'QM_REASON.txt'), 'w');
  try {
    await note.write(`${reason}\n`);
    await ownedAsFolder(note, folder);
  } finally {
    await note.close();
  }
  return moveStamped(folder, layout.lost, name);
}

/** Moves a lone file into a fresh hidden folder next to `scratchDir`; returns the folder. */
async function wrapInFolder(file: string, scratchDir: string): Promise<string> {
  const holder = await fs.mkdtemp(path.join(scratchDir, '.wrap-'));
  await fs.rename(file, path.join(holder, path.basename(file)));
  return holder;
}

/**
 * Entries of `dir` (QM_dJobs, QM_lost+found) stamped for job `name`:
 * `<ISO>-NAME` or `<ISO>-NAME-<n>`, oldest first.
 */
export async function stampedEntries(dir: string, name: string): Promise<string[]> {
  const stampLength = isoSeconds().length + 1;
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  const rank = (entry: string) => {
    const rest = entry.slice(stampLength);
    if (rest === name) return 1;
    const suffix = rest.startsWith(`${name}-`) ? rest.slice(name.length + 1) : '';
    return /^\d+$/.test(suffix) ? Number(suffix) : 0;
  };
  return entries
    .filter((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-/.test(e) && rank(e) > 0)
    .sort((a, b) => a.slice(0, stampLength).localeCompare(b.slice(0, stampLength)) || rank(a) - rank(b));
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Gives a folder and all it holds (links themselves, not what they point to) to uid:gid. */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(dir, uid, gid);
  for (const entry of await fs.readdir(dir, { recursive: true })) await fs.lchown(path.join(dir, entry), uid, gid);
}
