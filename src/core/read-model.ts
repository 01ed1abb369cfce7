/**
 * What QM shows of its jobs, read from Redis and the job folders, no writes:
 * the one read model of `qm status`, `qm stats`, the monitor's pages and
 * API, Bull Board's additions and `/metrics`.
 * 1. queued jobs in run order (held by a worker, waiting, prioritized), then
 *    those put aside for their `after` jobs, then folders still settling in
 *    QM_qJobs, each with the reason it waits;
 * 2. running jobs (`qm:running`) with their progress from process.log;
 * 3. done jobs, one page at a time (never a folder scan), and per owner;
 * 4. one job by name (and id, which follows it from queued to running to done);
 * 5. the live workers, and the counts of jobs by state;
 * 6. the arrays and their counts (array-summary.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Job } from 'bullmq';
import { exists, isIgnoredName, type Layout } from './folders.js';
import type { JobStore } from './jobstore.js';
import type { Heartbeat } from './heartbeat.js';
import type { DoneRecord, QueuedJob, RunningInfo } from './status.js';
import { readLogReport, type Progress } from './progress.js';
import { logPathOf } from './process-log.js';
import { dependencyText } from './dependencies.js';
import type { ArrayInfo } from './arrays.js';
import { summaryOf, type ArraySummary } from './array-summary.js';
import { ownerStats, type OwnerStats } from './owner-stats.js';
import { neverHeld, shortOfRoom } from './resources.js';

/**
 * starting: a worker is taking it; queued; after: waits for its `after` jobs;
 * held: until released; begin: until its begin time; settling: folder not queued yet
 */
export type QueuedPhase = 'starting' | 'queued' | 'after' | 'held' | 'begin' | 'settling';

export interface QueuedEntry {
  state: 'queued';
  phase: QueuedPhase;
  /** 1 = runs next; undefined for jobs not in the run order (after, settling) */
  position: number | undefined;
  name: string;
  id: string | undefined;
  /** the descriptor as queued; undefined while the folder is still settling */
  job: QueuedJob | undefined;
  /** the worker taking a `starting` job */
  worker: string | undefined;
  /** why it is not running yet, as squeue's REASON says it */
  reason: string;
}

export interface RunningEntry {
  state: 'running';
  name: string;
  id: string;
  info: RunningInfo;
  progress: Progress | undefined;
  /** seconds, the job's last `time: N` line */
  reportedTime: number | undefined;
}

export interface DoneEntry {
  state: 'done';
  name: string;
  id: string;
  record: DoneRecord;
}

export type JobView = QueuedEntry | RunningEntry | DoneEntry;

export interface DonePage {
  page: number;
  pages: number;
  perPage: number;
  total: number;
  records: DoneRecord[];
}

/** Where the settling folders were read: the active ingest's list, or QM_qJobs itself (no ingest lists them). */
export type SettlingSource = 'ingest' | 'folder';

export interface JobCounts {
  queued: number;
  running: number;
  done: number;
}

export class ReadModel {
  constructor(
    readonly store: JobStore,
    readonly layout: Layout,
  ) {}

  /**
   * Queued jobs in run order, at most `limit` listed, and their total (exact,
   * but for folders queued a moment ago still counted as settling among those
   * not listed). `settlingFrom`: where the settling folders were read.
   */
  async queued(limit: number): Promise<{ total: number; jobs: QueuedEntry[]; settlingFrom: SettlingSource }> {
    const last = Number.isFinite(limit) ? limit - 1 : -1;
    const store = this.store;
    const [counts, active, waiting, prioritized, delayed, running, published, workers, paused] = await Promise.all([
      store.counts(),
      store.jobsIn('active', 0, -1),
      store.jobsIn('waiting', 0, last),
      store.jobsIn('prioritized', 0, last),
      store.jobsIn('delayed', 0, last),
      store.running(),
      store.settlingNames(last < 0 ? -1 : last + 1),
      store.liveWorkers(),
      store.isPaused(),
    ]);
    const runningIds = new Set(running.map((r) => r.id));
    // active in BullMQ and not running yet: a worker is claiming it
    const starting = active.filter((j) => !runningIds.has(j.id ?? ''));
    const why = reasons(workers, paused, running);
    const now = Date.now();
    const inOrder = [...starting.map((j) => ({ j, s: 'starting' as const })), ...[...waiting, ...prioritized].map((j) => ({ j, s: 'queued' as const }))];
    const jobs: QueuedEntry[] = inOrder.map(({ j, s }, i) => entryOf(j, s, i + 1, why));
    jobs.push(...delayed.map((j) => entryOf(j, delayedPhase(j.data, now), undefined, why)));
    const known = new Set(jobs.map((v) => v.name));
    const settling = published ? await this.settlingOf(published, known) : await this.settlingInFolder(known);
    for (const name of settling.names) {
      jobs.push({ state: 'queued', phase: 'settling', position: undefined, name, id: undefined, job: undefined, worker: undefined, reason: 'Settling' });
    }
    const total = starting.length + counts.waiting + counts.prioritized + counts.delayed + settling.total;
    return { total, jobs: jobs.slice(0, Number.isFinite(limit) ? limit : undefined), settlingFrom: published ? 'ingest' : 'folder' };
  }

  /**
   * The settling folders as the active ingest lists them (a few names, with
   * the name index looked up for those alone): those queued since it wrote
   * them (`known`: listed already) are left out, and out of the count.
   */
  private async settlingOf(published: { total: number; names: string[] }, known: Set<string>): Promise<{ total: number; names: string[] }> {
    const ids = await this.store.queuedIds(published.names);
    const names = published.names.filter((n, i) => !known.has(n) && ids[i] === undefined);
    return { total: Math.max(0, published.total - (published.names.length - names.length)), names };
  }

  /**
   * No live ingest lists them (none active, or it has not read QM_qJobs
   * through yet): every entry of QM_qJobs the name index does not know.
   * Reads the whole folder and the whole index: slow with a long queue.
   */
  private async settlingInFolder(known: Set<string>): Promise<{ total: number; names: string[] }> {
    const [entries, names] = await Promise.all([fs.readdir(this.layout.queued).catch(() => [] as string[]), this.store.queuedNames()]);
    const settling = entries.filter((n) => !isIgnoredName(n) && !known.has(n) && !names.has(n)).sort();
    return { total: settling.length, names: settling };
  }

  async running(): Promise<RunningEntry[]> {
    const infos = (await this.store.running()).sort((a, b) => a.startedAt - b.startedAt);
    return Promise.all(infos.map((info) => this.runningEntry(info)));
  }

  /** Page `page` (from 1) of the done jobs, newest first. */
  async done(page: number, perPage: number): Promise<DonePage> {
    const total = await this.store.doneCount();
    const pages = Math.max(1, Math.ceil(total / perPage));
    const current = Math.min(Math.max(1, page), pages);
    const records = await this.store.doneRecords((current - 1) * perPage, perPage);
    return { page: current, pages, perPage, total, records };
  }

  /** Done records that ended in [from, to] (ms). */
  doneBetween(from: number | '-inf', to: number | '+inf' = '+inf'): Promise<DoneRecord[]> {
    return this.store.doneBetween(from, to);
  }

  /** Per owner over the done records that ended in [from, to], the busiest first. */
  async ownerStats(from: number | '-inf' = '-inf', to: number | '+inf' = '+inf'): Promise<OwnerStats[]> {
    return ownerStats(await this.doneBetween(from, to));
  }

  /** The job `name`; with `id`, that very job (which may be an older done job of the same name). */
  async find(name: string, id?: string): Promise<JobView | undefined> {
    if (!id) return this.current(name);
    const info = await this.store.runningInfo(id);
    if (info?.name === name) return this.runningEntry(info);
    const [record] = await this.store.records([id]);
    if (record?.name === name) return { state: 'done', name, id, record };
    const current = await this.current(name);
    return current && current.state === 'queued' && current.id === id ? current : undefined;
  }

  /**
   * The current job of that name: queued first, then running, then its
   * latest done record. (An array's own name is no job: see `arrayNamed`.)
   */
  async current(name: string): Promise<JobView | undefined> {
    if (await exists(path.join(this.layout.queued, name))) {
      const id = await this.store.queuedId(name);
      const job = id ? await this.store.job(id) : undefined;
      if (!job) return { state: 'queued', phase: 'settling', position: undefined, name, id, job: undefined, worker: undefined, reason: 'Settling' };
      return this.queuedEntry(job, await job.getState());
    }
    const info = (await this.store.running()).find((r) => r.name === name);
    if (info) return this.runningEntry(info);
    const task = await this.queuedTask(name);
    if (task) return task;
    const record = await this.store.lastDone(name);
    return record && { state: 'done', name, id: record.id, record };
  }

  /** A queued task of an array: no folder of its own until it starts, its BullMQ job is all there is. */
  private async queuedTask(name: string): Promise<QueuedEntry | undefined> {
    const id = await this.store.queuedId(name);
    const job = id ? await this.store.job(id) : undefined;
    if (!job?.data.array) return undefined;
    const state = await job.getState();
    return QUEUED_STATES.has(state) ? this.queuedEntry(job, state) : undefined;
  }

  private async queuedEntry(job: Job<QueuedJob>, state: string): Promise<QueuedEntry> {
    const s = state === 'active' ? 'starting' : state === 'delayed' ? delayedPhase(job.data, Date.now()) : 'queued';
    return entryOf(job, s, undefined, reasons(await this.store.liveWorkers(), await this.store.isPaused(), await this.store.running()));
  }

  private async runningEntry(info: RunningInfo): Promise<RunningEntry> {
    const { progress, reportedTime } = await readLogReport(logPathOf(path.join(this.layout.running, info.name)));
    return { state: 'running', name: info.name, id: info.id, info, progress, reportedTime };
  }

  /** The job's folder now; undefined when a record points outside QM_FOLDER. */
  folderOf(view: JobView): string | undefined {
    if (view.state === 'queued') return path.join(this.layout.queued, view.name);
    if (view.state === 'running') return path.join(this.layout.running, view.name);
    const folder = path.resolve(this.layout.root, view.record.folder);
    return folder.startsWith(this.layout.root + path.sep) ? folder : undefined;
  }

  /** The arrays with a task queued or running, with their counts (done: ended with code 0; failed: any other end). */
  async arrays(): Promise<ArraySummary[]> {
    const [infos, running] = await Promise.all([this.store.arrays(), this.store.running()]);
    const out: ArraySummary[] = [];
    for (const a of infos) {
      const summary = await summaryOf(this.store, a, running);
      if (summary.queued + summary.running > 0) out.push(summary);
    }
    return out.sort((x, y) => x.name.localeCompare(y.name));
  }

  /**
   * The array `name` means, with its counts: its latest array, unless
   * `current` (what current(name) gave) is a job of that name of its own.
   */
  async arrayNamed(name: string, current: JobView | undefined): Promise<ArraySummary | undefined> {
    const info = await this.arrayInfoNamed(name, current);
    return info && summaryOf(this.store, info, await this.store.running());
  }

  /** arrayNamed's array, as Redis keeps it (its indices). */
  async arrayInfoNamed(name: string, current: JobView | undefined): Promise<ArrayInfo | undefined> {
    const info = await this.store.arrayInfo(name);
    return info && (!current || current.id === info.id) ? info : undefined;
  }

  workers(): Promise<Heartbeat[]> {
    return this.store.liveWorkers();
  }

  /** Jobs by state: held by a worker not yet running counts as queued. */
  async counts(): Promise<JobCounts> {
    const [counts, running, done] = await Promise.all([this.store.counts(), this.store.running(), this.store.doneCount()]);
    const held = Math.max(0, counts.active - running.length);
    return { queued: held + counts.waiting + counts.prioritized + counts.delayed, running: running.length, done };
  }
}

/** BullMQ's states of a job not started yet (active and not in the running table: a worker is taking it). */
const QUEUED_STATES = new Set(['waiting', 'prioritized', 'delayed', 'active']);

/** Why a job is in BullMQ's delayed set: held, before its begin time, or waiting for its `after` jobs. */
function delayedPhase(job: QueuedJob, now: number): QueuedPhase {
  if (job.held) return 'held';
  if (job.beginAt !== undefined && job.beginAt > now) return 'begin';
  return 'after';
}

/**
 * Why a queued job waits, as squeue's REASON says it (the one place: `qm
 * status`, its JSON, the monitor): the largest live budget tells a job too
 * big for now from one behind others.
 */
export function reasons(workers: Heartbeat[], paused: boolean, running: RunningInfo[]) {
  const free = workers.reduce((most, w) => Math.max(most, w.budget - w.inUse), 0);
  const arrayRunning = new Map<string, number>();
  for (const r of running) if (r.array) arrayRunning.set(r.array.id, (arrayRunning.get(r.array.id) ?? 0) + 1);
  return (job: QueuedJob, state: QueuedPhase, position: number | undefined): string => {
    if (state === 'starting') return 'Starting';
    if (state === 'held') return 'Held';
    if (state === 'begin') return 'BeginTime';
    if (state === 'after') return `Dependency: ${dependencyText(job)}`;
    if (paused) return 'Paused';
    // Slurm's reason for a task held back by %K
    if (job.array?.limit !== undefined && (arrayRunning.get(job.array.id) ?? 0) >= job.array.limit) return 'ArrayTaskLimit';
    const never = neverHeld(job, workers);
    if (never) return `Resources: ${never}`;
    if (position === 1 && job.nbProc > free) return `Resources: needs ${job.nbProc} CPUs, ${free} free`;
    const short = position === 1 ? shortOfRoom(job, workers) : undefined;
    if (short) return `Resources: ${short}`;
    return 'Priority';
  };
}

function entryOf(
  j: Job<QueuedJob>,
  phase: QueuedPhase,
  position: number | undefined,
  why: (job: QueuedJob, phase: QueuedPhase, position: number | undefined) => string,
): QueuedEntry {
  return {
    state: 'queued',
    phase,
    position,
    name: j.data.name,
    id: j.id,
    job: j.data,
    worker: phase === 'starting' ? j.processedBy : undefined,
    reason: why(j.data, phase, position),
  };
}
