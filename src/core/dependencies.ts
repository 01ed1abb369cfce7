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
import path from 'node:path';
import type { JobStore } from './jobstore.js';
import { exists, stampedEntries, type Layout } from './folders.js';
import { describeOutcome } from './status.js';
import { endIn, logPathOf, readEdges } from './process-log.js';

export type DependencyState =
  | { state: 'pending' }
  | { state: 'ok' }
  | { state: 'failed'; why: string }
  | { state: 'unknown' };

/** A job put aside is looked at again after this long even if nothing woke it. */
export const DEPENDENCY_RECHECK_MS = 60_000;

/** What to do with a job now: run it, wait for job `name`, or end it because `name` failed. */
export type Verdict = { kind: 'run' } | { kind: 'wait'; name: string } | { kind: 'fail'; name: string; why: string };

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
  const end = endIn((await readEdges(logPathOf(path.join(layout.done, newestDone)))).tail);
  if (!end) return { state: 'failed', why: 'did not run' };
  return end.outcome.kind === 'success' ? { state: 'ok' } : { state: 'failed', why: describeOutcome(end.outcome) };
}

export async function dependencyVerdict(store: JobStore, layout: Layout, after: string[]): Promise<Verdict> {
  let pending: string | undefined;
  for (const name of after) {
    const state = await dependencyState(store, layout, name);
    if (state.state === 'failed') return { kind: 'fail', name, why: state.why };
    if (state.state === 'unknown') return { kind: 'fail', name, why: 'no such job' };
    if (state.state === 'pending') pending ??= name;
  }
  return pending ? { kind: 'wait', name: pending } : { kind: 'run' };
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
