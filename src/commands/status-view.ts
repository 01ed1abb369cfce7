/**
 * What `qm status` shows, as data (also its `--json`, version 1, documented
 * in the README "Command reference"):
 * 1. queued jobs in the order they will run: those a worker is taking, then
 *    BullMQ's waiting and prioritized jobs; then the jobs put aside for their
 *    `after` jobs, and folders not queued yet;
 * 2. running jobs with their progress (the last `i / n` of process.log),
 *    elapsed time, host and worker;
 * 3. the latest done records;
 * 4. the live workers and their pools: processors, GPUs, memory.
 */
import type { Progress } from '../core/progress.js';
import type { QueuedEntry, RunningEntry } from '../core/read-model.js';
import type { ArraySummary } from '../core/array-summary.js';
import { describeOutcome, exitCodeOf, type DoneRecord, type Outcome } from '../core/status.js';
import type { Client } from './client.js';

export interface QueuedView {
  /** 1 = runs next; null for jobs that are not in the run order (waiting for a dependency, settling) */
  position: number | null;
  name: string;
  id: string | null;
  /** starting: a worker is taking it; queued; after: waits for its `after` jobs; held: until released; begin: until its begin time; settling: folder not queued yet */
  state: 'starting' | 'queued' | 'after' | 'held' | 'begin' | 'settling';
  priority: number | null;
  nbProc: number | null;
  /** GPUs and memory (MB; 0 = all of a worker's) asked */
  nbGpu: number | null;
  memoryMb: number | null;
  owner: string | null;
  info: string | null;
  after: string[];
  enqueuedAt: string | null;
  /** the worker taking a `starting` job */
  worker: string | null;
  /** why it is not running yet: Starting, Priority, Resources: ..., Dependency: A, Held, BeginTime, Paused, Settling */
  reason: string;
  /** the Unix owner of the job's folder */
  user: string | null;
  /** ISO time before which it does not start (--begin) */
  beginAt: string | null;
  /** a task of an array: the array's id */
  arrayId?: string;
}

export interface RunningView {
  name: string;
  id: string;
  nbProc: number;
  cpus: number[];
  /** GPU ids it holds, memory it reserved (MB) */
  gpus: string[];
  memoryMb: number | null;
  worker: string;
  host: string;
  startedAt: string;
  elapsedSeconds: number;
  progress: (Progress & { percent: number }) | null;
  /** the job's last `time: N` line */
  reportedSeconds: number | null;
  owner: string | null;
  info: string | null;
  arrayId?: string;
  user: string | null;
}

export interface DoneView {
  name: string;
  id: string;
  /** one phrase: `code 0`, `timed out after 60 s (code 143)`... */
  result: string;
  outcome: Outcome;
  exitCode: number;
  nbProc: number;
  worker: string | null;
  host: string | null;
  startedAt: string | null;
  endedAt: string;
  elapsedSeconds: number | null;
  cpuSeconds: number | null;
  /** the job's last `time: N` line */
  reportedSeconds: number | null;
  /** relative to qmFolder */
  folder: string;
  owner: string | null;
  info: string | null;
  /** a task of an array: the array's id and this task's index */
  arrayId?: string;
  arrayIndex?: number;
  user: string | null;
}

export interface WorkerView {
  name: string;
  host: string;
  processors: { inUse: number; total: number };
  gpus: { inUse: string[]; ids: string[] };
  /** null: a worker that does not publish its memory pool */
  memoryMb: { inUse: number; total: number } | null;
}

export interface StatusView {
  version: 1;
  qmFolder: string;
  generatedAt: string;
  /** the arrays with a task queued or running: one line each (their tasks are also in queued, running and done) */
  arrays: ArraySummary[];
  queued: QueuedView[];
  queuedTotal: number;
  running: RunningView[];
  done: DoneView[];
  doneTotal: number;
  workers: WorkerView[];
  /** the queue is paused (qm pause): no job starts */
  paused: boolean;
}

export interface Limits {
  queued: number;
  done: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export async function statusView(client: Client, limits: Limits): Promise<StatusView> {
  const { model, layout } = client;
  const [queued, running, done, workers, arrays, paused] = await Promise.all([
    model.queued(limits.queued), model.running(), model.done(1, Math.max(1, limits.done)), model.workers(), model.arrays(), client.store.isPaused(),
  ]);
  const now = Date.now();
  return {
    version: 1,
    qmFolder: layout.root,
    generatedAt: new Date(now).toISOString(),
    arrays,
    queued: queued.jobs.map(queuedView),
    queuedTotal: queued.total,
    running: running.map((r) => runningView(r, now)),
    done: done.records.slice(0, limits.done).map(doneView),
    doneTotal: done.total,
    workers: workers.map((w) => ({
      name: w.name,
      host: w.host,
      processors: { inUse: w.inUse, total: w.budget },
      gpus: { inUse: w.gpusInUse ?? [], ids: w.gpus ?? [] },
      memoryMb: w.memoryMb === undefined ? null : { inUse: w.memoryInUseMb ?? 0, total: w.memoryMb },
    })),
    paused,
  };
}

const STATE_OF_PHASE: Record<QueuedEntry['phase'], QueuedView['state']> = {
  starting: 'starting', queued: 'queued', after: 'after', held: 'held', begin: 'begin', settling: 'settling',
};

function queuedView(q: QueuedEntry): QueuedView {
  const d = q.job;
  return {
    position: q.position ?? null,
    name: q.name,
    id: q.id ?? null,
    state: STATE_OF_PHASE[q.phase],
    priority: d?.priority ?? null,
    nbProc: d?.nbProc ?? null,
    nbGpu: d ? (d.nbGpu ?? 0) : null,
    memoryMb: d?.memoryMb ?? null,
    owner: d?.email ?? null,
    info: d?.info ?? null,
    after: d ? [...d.after, ...(d.keys.dependency ? [d.keys.dependency] : [])] : [],
    enqueuedAt: iso(d?.enqueuedAt),
    worker: q.worker ?? null,
    reason: q.reason,
    ...(d?.array ? { arrayId: d.array.id } : {}),
    user: d?.owner?.user ?? null,
    beginAt: iso(d?.beginAt),
  };
}

function runningView(r: RunningEntry, now: number): RunningView {
  const { info, progress } = r;
  return {
    name: r.name,
    id: r.id,
    nbProc: info.nbProc,
    cpus: info.cpus,
    gpus: info.gpus ?? [],
    memoryMb: info.memoryMb ?? null,
    worker: info.worker,
    host: info.host,
    startedAt: new Date(info.startedAt).toISOString(),
    elapsedSeconds: Math.max(0, (now - info.startedAt) / 1000),
    progress: progress ? { ...progress, percent: Math.min(100, Math.round((100 * progress.done) / progress.total)) } : null,
    reportedSeconds: r.reportedTime ?? null,
    owner: info.email ?? null,
    info: info.info ?? null,
    ...(info.array ? { arrayId: info.array.id } : {}),
    user: info.owner?.user ?? null,
  };
}

function doneView(r: DoneRecord): DoneView {
  return {
    name: r.name,
    id: r.id,
    result: describeOutcome(r.outcome),
    outcome: r.outcome,
    exitCode: exitCodeOf(r.outcome),
    nbProc: r.nbProc,
    worker: r.worker ?? null,
    host: r.host ?? null,
    startedAt: iso(r.startedAt),
    endedAt: new Date(r.endedAt).toISOString(),
    elapsedSeconds: r.elapsed ?? null,
    cpuSeconds: r.cpu ?? null,
    reportedSeconds: r.reportedTime ?? null,
    folder: r.folder,
    owner: r.email ?? null,
    info: r.info ?? null,
    ...(r.array ? { arrayId: r.array.id, arrayIndex: r.array.index } : {}),
    user: r.owner?.user ?? null,
  };
}
