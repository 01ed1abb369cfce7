/**
 * Records for the folders of QM_dJobs that Redis does not know (SPEC §1: the
 * filesystem is the truth): the ones QM 0.4 left (`QM_dJobs/NAME`), and QM's
 * own once Redis was wiped or replaced. Without them the done lists of the
 * monitor and `qm status` would start empty.
 * 1. Runs when Redis has no mark of it (a new or wiped Redis): ingest looks
 *    at each rescan, and marks it done.
 * 2. A record comes from the folder's process.log: start and end from QM's
 *    header and footer (QM 0.4 wrote local times, as does `new Date` read
 *    them), the exit code and the reason line, the job's `time: N`. Without a
 *    footer (QM 0.4's non-blocking mode wrote none) the outcome is
 *    `unrecorded` and the end is the folder's time.
 * 3. Only the newest, up to keep_done records in all; a stamped folder moved
 *    in the last minute is left to the worker that moved it, which records it.
 * 4. The id is `dir:<entry>` (foundRecordId); these records do not answer for dependencies,
 *    which read the folders themselves.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { JobStore } from '../core/jobstore.js';
import { isIgnoredName, type Layout } from '../core/folders.js';
import { reportedTimeIn } from '../core/progress.js';
import { endIn, logPathOf, readEdges, startedAtIn } from '../core/process-log.js';
import { doneRecord } from '../core/records.js';
import { foundRecordId, type DoneRecord } from '../core/status.js';

/** A stamped folder moved more recently than this may still be recorded by the worker that moved it. */
const RECENT_MS = 60_000;
const STAMPED = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)-(.+)$/;
/** process.log files read at once */
const READ_AT_ONCE = 16;

/** Records the unknown folders of QM_dJobs, if this Redis has not had it done; how many. */
export async function recordDoneFolders(store: JobStore, layout: Layout, keepDone: number, recentMs = RECENT_MS): Promise<number> {
  if (await store.doneFoldersScanned()) return 0;
  const known = await store.doneFolders();
  const now = Date.now();
  const found: Array<{ entry: string; mtime: number }> = [];
  for (const entry of await fs.readdir(layout.done).catch(() => [] as string[])) {
    if (isIgnoredName(entry) || known.has(path.join(path.basename(layout.done), entry))) continue;
    const stat = await fs.stat(path.join(layout.done, entry)).catch(() => undefined);
    // a worker's folder (stamped) moved just now is recorded by that worker; recentMs 0 leaves none
    // to a worker (a ctime in nanoseconds may lie after Date.now(), which counts whole milliseconds)
    const recent = recentMs > 0 && now - (stat?.ctimeMs ?? 0) < recentMs;
    if (stat?.isDirectory() && !(STAMPED.test(entry) && recent)) found.push({ entry, mtime: stat.mtimeMs });
  }
  // the newest by their stamp or time: only those logs are read, a few at a time
  const room = Math.max(0, keepDone - (await store.doneCount()));
  const when = (f: (typeof found)[number]) => timeOf(STAMPED.exec(f.entry)?.[1]) ?? f.mtime;
  const newest = found.sort((a, b) => when(b) - when(a)).slice(0, room);
  const records: DoneRecord[] = [];
  for (let i = 0; i < newest.length; i += READ_AT_ONCE) {
    records.push(...(await Promise.all(newest.slice(i, i + READ_AT_ONCE).map((f) => recordOf(layout, f.entry, f.mtime)))));
  }
  await store.addFoundRecords(records);
  return records.length;
}

async function recordOf(layout: Layout, entry: string, mtime: number): Promise<DoneRecord> {
  const stamped = STAMPED.exec(entry);
  const { head, tail } = await readEdges(logPathOf(path.join(layout.done, entry)));
  const startedAt = startedAtIn(head);
  const end = endIn(tail);
  const endedAt = end?.endedAt ?? timeOf(stamped?.[1]) ?? mtime;
  return doneRecord({
    id: foundRecordId(entry),
    name: stamped?.[2] ?? entry,
    run: startedAt !== undefined && end?.endedAt !== undefined ? { startedAt } : undefined,
    endedAt,
    reportedTime: reportedTimeIn(tail),
    folder: path.join(path.basename(layout.done), entry),
    outcome: end?.outcome ?? { kind: 'unrecorded' },
  });
}

/** The folder's stamp, in local time as QM writes it. */
function timeOf(text: string | undefined): number | undefined {
  const t = text === undefined ? NaN : new Date(text).getTime();
  return Number.isNaN(t) ? undefined : t;
}
