/**
 * Where a job named in another job's `after` stands (SPEC §2, §3), for
 * `qm submit`, ingest and the worker alike:
 * 1. pending: queued or running (its folder in QM_qJobs or QM_Jobs, or the
 *    running table has it);
 * 2. ok: its latest end was code 0; failed: any other end (failed, killed,
 *    cancelled, timed out, lost, its own dependency failed);
 * 3. unknown: never queued, run or finished here.
 * Redis records answer first; the folders of QM_dJobs and QM_lost+found
 * answer when Redis has forgotten (keep_done, a wiped Redis).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { JobStore } from './jobstore.js';
import { exists, stampedEntries, type Layout } from './folders.js';
import { describeOutcome } from './status.js';

export type DependencyState =
  | { state: 'pending' }
  | { state: 'ok' }
  | { state: 'failed'; why: string }
  | { state: 'unknown' };

/** The bytes of process.log read to find how a job ended. */
const LOG_TAIL_BYTES = 4096;

export async function dependencyState(store: JobStore, layout: Layout, name: string): Promise<DependencyState> {
  const folders = [path.join(layout.queued, name), path.join(layout.queued, `${name}.sh`), path.join(layout.running, name)];
  for (const folder of folders) if (await exists(folder)) return { state: 'pending' };
  // the running table and the done record change together: no gap between them
  if ((await store.running()).some((r) => r.name === name)) return { state: 'pending' };
  const record = await store.lastDone(name);
  if (record) return record.outcome.kind === 'success' ? { state: 'ok' } : { state: 'failed', why: describeOutcome(record.outcome) };
  return folderState(layout, name);
}

/** How the newest folder of `name` in QM_dJobs or QM_lost+found says it ended. */
async function folderState(layout: Layout, name: string): Promise<DependencyState> {
  const [done, lost] = await Promise.all([stampedEntries(layout.done, name), stampedEntries(layout.lost, name)]);
  const newestDone = done.at(-1);
  const newestLost = lost.at(-1);
  if (newestLost && (!newestDone || newestLost > newestDone)) return { state: 'failed', why: `lost (${newestLost} in QM_lost+found)` };
  if (!newestDone) return { state: 'unknown' };
  const tail = await readTail(path.join(layout.done, newestDone, 'process.log'));
  const code = [...tail.matchAll(/^Job finished at: .* with code (\d+)$/gm)].at(-1)?.[1];
  if (code === '0' && !/^Reason:/m.test(tail)) return { state: 'ok' };
  return { state: 'failed', why: code === undefined ? 'did not run' : `code ${code}` };
}

async function readTail(file: string): Promise<string> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/**
 * Why job `self` cannot wait for `after` (it names itself, or a job that
 * never existed), or undefined when every name is known.
 */
export async function unknownDependencies(store: JobStore, layout: Layout, after: string[], self: string): Promise<string | undefined> {
  if (after.includes(self)) return `after: job ${self} cannot wait for itself`;
  const unknown: string[] = [];
  for (const name of after) {
    if ((await dependencyState(store, layout, name)).state === 'unknown') unknown.push(name);
  }
  if (unknown.length === 0) return undefined;
  return `after: no job named ${unknown.join(', ')} is queued, running or finished`;
}
