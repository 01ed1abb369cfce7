/**
 * What ingest checks on a settled folder before reading its descriptor
 * (SPEC §1, §2, §4), and the folders it had to leave alone.
 * 1. Its name: no control characters (a newline would split log lines and
 *    listings), and short enough for `QM_dJobs/<ISO>-NAME`.
 * 2. QM may move it: a folder QM cannot rename (no write permission on the
 *    folder itself) can neither run nor go to QM_lost+found. It stays where it
 *    is, reported once, and is looked at again when it changes (chmod).
 * 3. Its descriptor is there: a folder without one gets
 *    MISSING_DESCRIPTOR_SETTLES × settle_time of stillness before it is
 *    declared incomplete (a copy that stalled before the descriptor arrived).
 * 4. Its job: the descriptor read, and the jobs it depends on known.
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import { MAX_JOB_NAME_BYTES, type Layout } from '../core/folders.js';
import type { JobStore } from '../core/jobstore.js';
import { readQueuedJob } from '../core/queued-job.js';
import { unknownDependencies } from '../core/dependencies.js';
import { DescriptorError } from '../core/descriptor-types.js';
import type { Settings } from '../core/settings-types.js';
import type { QueuedJob } from '../core/status.js';
import type { TreeLook } from './settle.js';

const MISSING_DESCRIPTOR_SETTLES = 5;

export type Admission =
  | { kind: 'ok' }
  /** to QM_lost+found with this reason */
  | { kind: 'lose'; reason: string }
  /** cannot be moved: left in QM_qJobs, reported once */
  | { kind: 'refuse'; reason: string }
  /** it left QM_qJobs meanwhile */
  | { kind: 'gone' }
  /** look again in `ms` */
  | { kind: 'wait'; ms: number; reason: string };

/** `look`: what the settle check found in the folder. */
export async function admit(full: string, name: string, look: TreeLook, jobFile: string, settleMs: number): Promise<Admission> {
  if (/[\x00-\x1f\x7f]/.test(name)) return { kind: 'lose', reason: `the name ${JSON.stringify(name)} contains a control character (newline, tab...)` };
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_JOB_NAME_BYTES) {
    return { kind: 'lose', reason: `the name is ${bytes} bytes long; at most ${MAX_JOB_NAME_BYTES} fit in QM_dJobs/<date>-NAME` };
  }
  try {
    await fs.access(full, constants.W_OK | constants.X_OK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'gone' };
    const uid = process.getuid?.() ?? '?';
    return { kind: 'refuse', reason: `QM (uid ${uid}) cannot move this folder (no write permission on it): it stays here until its permissions allow it` };
  }
  const names = look.names ?? [];
  if (!names.includes(jobFile) && !names.some((e) => e.endsWith('.sh') && !e.startsWith('.'))) {
    const grace = MISSING_DESCRIPTOR_SETTLES * settleMs;
    const still = Date.now() - look.newest;
    if (still < grace) return { kind: 'wait', ms: grace - still + 5, reason: `no ${jobFile} (or *.sh) yet: waiting up to ${grace / 1000} s for it` };
  }
  return { kind: 'ok' };
}

/**
 * The job of an admitted folder (`folder`: its lstat), with what QM says of
 * its descriptor to log; `lose` with the reason when the descriptor is wrong
 * or names a dependency QM does not know.
 */
export async function readJob(
  full: string, name: string, folder: Stats, server: Settings['server'], store: JobStore, layout: Layout,
): Promise<{ kind: 'ok'; job: QueuedJob; warnings: string[] } | { kind: 'lose'; reason: string }> {
  let job: QueuedJob;
  let warnings: string[];
  try {
    const read = await readQueuedJob(full, name, server.jobFile, Date.now(), { mailActive: server.mailActive, folderStat: folder });
    job = read.job;
    warnings = [...read.warnings, ...(job.notices ?? [])];
  } catch (err) {
    if (err instanceof DescriptorError) return { kind: 'lose', reason: err.message };
    throw err;
  }
  const unknown = await unknownDependencies(store, layout, job, name);
  return unknown ? { kind: 'lose', reason: unknown } : { kind: 'ok', job, warnings };
}

/**
 * Entries ingest had to leave in QM_qJobs: each is reported once, and taken
 * up again only when it changed (its ctime or mtime: chmod, new content).
 */
export class Refusals {
  private readonly seen = new Map<string, string>();

  /** Remembers `name` as refused in its current state; false if it was already. */
  async remember(name: string, full: string): Promise<boolean> {
    const sig = signature(await fs.lstat(full).catch(() => undefined));
    const known = this.seen.get(name) === sig;
    this.seen.set(name, sig);
    return !known;
  }

  /** Refused and unchanged since? */
  async unchanged(name: string, full: string): Promise<boolean> {
    const known = this.seen.get(name);
    if (known === undefined) return false;
    const sig = signature(await fs.lstat(full).catch(() => undefined));
    if (sig === 'gone') this.seen.delete(name);
    return known === sig;
  }

  forget(name: string): void {
    this.seen.delete(name);
  }

  has(name: string): boolean {
    return this.seen.has(name);
  }

  names(): IterableIterator<string> {
    return this.seen.keys();
  }
}

function signature(stat: Stats | undefined): string {
  return stat ? `${stat.ctimeMs}:${stat.mtimeMs}` : 'gone';
}

/** What an entry of QM_qJobs that is not a folder is, for the reason it is refused. */
export function kindOf(stat: { isFile(): boolean; isSymbolicLink(): boolean }): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  return stat.isFile() ? 'a plain file' : 'a special file (FIFO, socket or device)';
}
