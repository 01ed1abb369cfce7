/**
 * A job's dependencies (SPEC §2, §3, §9), for `qm submit`, ingest and the
 * worker alike.
 * 1. What it waits for: `after` names (afterok) and Slurm's expression
 *    (`afterok`, `afterany`, `afternotok`, `after` = started, `singleton`;
 *    `,` all, `?` any), on job names or QM ids; `singleton` is turned into
 *    `afterany` on the jobs of its family queued or running when it is queued.
 * 2. Where a job named stands: queued, running (its folder in QM_qJobs or
 *    QM_Jobs, or the running table has it; an array while a task is), ok (its
 *    latest end was code 0; an array: every task's), failed (any other end),
 *    unknown. Redis records answer first; the folders of QM_dJobs and
 *    QM_lost+found answer when Redis has forgotten (keep_done, a wiped Redis).
 * 3. The verdict: run, wait (for which jobs), or never (which one failed).
 */
import path from 'node:path';
import type { JobStore } from './jobstore.js';
import { exists, stampedEntries, type Layout } from './folders.js';
import { describeOutcome, type QueuedJob } from './status.js';
import { taskName } from './job-array.js';
import { endIn, logPathOf, readEdges } from './process-log.js';

export type DependencyState =
  | { state: 'queued' }
  | { state: 'running' }
  | { state: 'ok' }
  | { state: 'failed'; why: string }
  | { state: 'unknown' };

export type DependencyKind = 'afterok' | 'afterany' | 'afternotok' | 'after';
export interface DependencyTerm {
  kind: DependencyKind;
  name: string;
}
/** Every term of `all` must be met, and one of `any` (when it has terms). */
export interface Dependency {
  all: DependencyTerm[];
  any: DependencyTerm[];
  singleton: boolean;
}

/** A job put aside is looked at again after this long even if nothing woke it. */
export const DEPENDENCY_RECHECK_MS = 60_000;

/** What to do with a job now: run it, wait for the jobs `names` (the first: `name`), or end it because `name` failed. */
export type Verdict = { kind: 'run' } | { kind: 'wait'; name: string; names: string[] } | { kind: 'fail'; name: string; why: string };

const KINDS = new Set<string>(['afterok', 'afterany', 'afternotok', 'after']);

/** Slurm's --dependency: `afterok:A:B,afterany:C`, `afterok:A?afternotok:B`, `singleton`; throws a RangeError. */
export function parseDependency(text: string): Dependency {
  const expr = text.trim();
  const fail = (why: string) => new RangeError(`${JSON.stringify(expr)}: ${why}; expected e.g. afterok:A:B, afterany:A?afternotok:B or singleton`);
  if (expr.includes(',') && expr.includes('?')) throw fail('"," and "?" cannot be mixed');
  const any = expr.includes('?');
  const dep: Dependency = { all: [], any: [], singleton: false };
  for (const part of expr.split(/[,?]/)) {
    const [kind = '', ...names] = part.trim().split(':');
    if (kind === 'singleton' && names.length === 0) {
      dep.singleton = true;
      continue;
    }
    if (!KINDS.has(kind)) throw fail(`unknown dependency type ${JSON.stringify(kind)}`);
    // Slurm's `afterok:A+60` time offsets are not kept
    const jobs = names.map((n) => n.replace(/\+\d+$/, '')).filter(Boolean);
    if (jobs.length === 0) throw fail(`${kind} names no job`);
    (any ? dep.any : dep.all).push(...jobs.map((name) => ({ kind: kind as DependencyKind, name })));
  }
  return dep;
}

/** What job `job` waits for: its `after` names (afterok) and its dependency expression. */
export function dependencyOf(job: Pick<QueuedJob, 'after' | 'keys'>): Dependency {
  const expr = job.keys.dependency?.trim();
  const dep = expr ? parseDependency(expr) : { all: [], any: [], singleton: false };
  dep.all.unshift(...job.after.map((name) => ({ kind: 'afterok' as const, name })));
  return dep;
}

export function hasDependencies(job: Pick<QueuedJob, 'after' | 'keys'>): boolean {
  return job.after.length > 0 || Boolean(job.keys.dependency?.trim());
}

/** Every job named, for display. */
export function dependencyText(job: Pick<QueuedJob, 'after' | 'keys'>): string {
  const expr = job.keys.dependency?.trim();
  // QM's own `after` names read as they were written; a Slurm expression as Slurm writes it
  if (!expr) return job.after.join(',');
  return [job.after.length > 0 ? `afterok:${job.after.join(':')}` : '', expr].filter(Boolean).join(',');
}

/** The family of a singleton: its name without a `-N` ending (`run-3` → `run`). */
export function familyOf(name: string): string {
  return name.replace(/-\d+$/, '');
}

export async function dependencyState(store: JobStore, layout: Layout, name: string): Promise<DependencyState> {
  const queued = [path.join(layout.queued, name), path.join(layout.queued, `${name}.sh`)];
  for (const folder of queued) if (await exists(folder)) return { state: 'queued' };
  if (await exists(path.join(layout.running, name))) return { state: 'running' };
  // the running table and the done record change together: no gap between them
  if ((await store.running()).some((r) => r.name === name || r.array?.name === name)) return { state: 'running' };
  const record = await store.lastDone(name);
  if (record) return record.outcome.kind === 'success' ? { state: 'ok' } : { state: 'failed', why: describeOutcome(record.outcome) };
  const array = await store.arrayInfo(name);
  if (array) return arrayState(store, name, array.indices);
  const found = await folderState(layout, name);
  if (found.state !== 'unknown') return found;
  // a QM id (what `sbatch --parsable` scripts pass on): the job it names
  const named = await store.nameOfId(name);
  return named && named !== name ? dependencyState(store, layout, named) : found;
}

/** An array whose tasks have all started: running while one runs, then ok only if every task ended with code 0. */
async function arrayState(store: JobStore, name: string, indices: number[]): Promise<DependencyState> {
  const records = await store.lastDoneOf(indices.map((i) => taskName(name, i)));
  for (const [i, record] of records.entries()) {
    if (!record) return { state: 'running' };
    if (record.outcome.kind !== 'success') return { state: 'failed', why: `task ${taskName(name, indices[i]!)}: ${describeOutcome(record.outcome)}` };
  }
  return { state: 'ok' };
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

/** Is one term met (true), never to be met (the why), or not yet (undefined)? */
function termMet(kind: DependencyKind, state: DependencyState): true | string | undefined {
  switch (state.state) {
    case 'unknown':
      return 'no such job';
    case 'queued':
      return undefined;
    case 'running':
      return kind === 'after' ? true : undefined;
    case 'ok':
      return kind === 'afternotok' ? 'succeeded (afternotok)' : true;
    case 'failed':
      return kind === 'afterok' ? state.why : true;
  }
}

export async function dependencyVerdict(store: JobStore, layout: Layout, dep: Dependency): Promise<Verdict> {
  const waiting: string[] = [];
  for (const term of dep.all) {
    const met = termMet(term.kind, await dependencyState(store, layout, term.name));
    if (typeof met === 'string') return { kind: 'fail', name: term.name, why: met };
    if (met === undefined) waiting.push(term.name);
  }
  if (dep.any.length > 0) {
    const never: string[] = [];
    const open: string[] = [];
    for (const term of dep.any) {
      const met = termMet(term.kind, await dependencyState(store, layout, term.name));
      if (met === true) return waiting.length > 0 ? { kind: 'wait', name: waiting[0]!, names: waiting } : { kind: 'run' };
      if (met === undefined) open.push(term.name);
      else never.push(`${term.name} ${met}`);
    }
    if (open.length === 0) return { kind: 'fail', name: dep.any.map((t) => t.name).join('?'), why: never.join('; ') };
    waiting.push(...open);
  }
  return waiting.length > 0 ? { kind: 'wait', name: waiting[0]!, names: waiting } : { kind: 'run' };
}

/**
 * Why job `self` cannot wait for what it names (itself, a job that never
 * existed, a bad expression), or undefined when every name is known.
 */
export async function unknownDependencies(store: JobStore, layout: Layout, job: Pick<QueuedJob, 'after' | 'keys'>, self: string): Promise<string | undefined> {
  let dep: Dependency;
  try {
    dep = dependencyOf(job);
  } catch (err) {
    return `dependency ${(err as Error).message}`;
  }
  const names = [...new Set([...dep.all, ...dep.any].map((t) => t.name))];
  if (names.includes(self)) return `after: job ${self} cannot wait for itself`;
  const unknown: string[] = [];
  for (const name of names) {
    if ((await dependencyState(store, layout, name)).state === 'unknown') unknown.push(name);
  }
  if (unknown.length === 0) return undefined;
  return `after: no job named ${unknown.join(', ')} is queued, running or finished`;
}
