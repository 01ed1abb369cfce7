/**
 * What `qm status` shows, as data (also its `--json`, version 1, documented
 * in the README "Command reference"):
 * 1. queued jobs in the order they will run: those a worker is taking, then
 *    BullMQ's waiting and prioritized jobs; then the jobs put aside for their
 *    `after` jobs, and folders not queued yet;
 * 2. running jobs with their progress (the last `i / n` of process.log),
 *    elapsed time, host and worker;
 * 3. the latest done records.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Job } from 'bullmq';
import { isIgnoredName } from '../core/folders.js';
import { readLogReport, type Progress } from '../core/progress.js';
import { describeOutcome, exitCodeOf, type DoneRecord, type Outcome, type QueuedJob } from '../core/status.js';
import type { Client } from './client.js';

export interface QueuedView {
  /** 1 = runs next; null for jobs that are not in the run order (waiting for a dependency, settling) */
  position: number | null;
  name: string;
  id: string | null;
  /** starting: a worker is taking it; queued; after: waits for its `after` jobs; settling: folder not queued yet */
  state: 'starting' | 'queued' | 'after' | 'settling';
  priority: number | null;
  nbProc: number | null;
  owner: string | null;
  info: string | null;
  after: string[];
  enqueuedAt: string | null;
  /** the worker taking a `starting` job */
  worker: string | null;
}

export interface RunningView {
  name: string;
  id: string;
  nbProc: number;
  cpus: number[];
  worker: string;
  host: string;
  startedAt: string;
  elapsedSeconds: number;
  progress: (Progress & { percent: number }) | null;
  /** the job's last `time: N` line */
  reportedSeconds: number | null;
  owner: string | null;
  info: string | null;
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
}

export interface StatusView {
  version: 1;
  qmFolder: string;
  generatedAt: string;
  queued: QueuedView[];
  queuedTotal: number;
  running: RunningView[];
  done: DoneView[];
  doneTotal: number;
}

export interface Limits {
  queued: number;
  done: number;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export async function statusView(client: Client, limits: Limits): Promise<StatusView> {
  const { store, layout } = client;
  const queue = store.queue;
  const running = await store.running();
  const runningIds = new Set(running.map((r) => r.id));
  const [queued, done, doneTotal, counts] = await Promise.all([
    queuedViews(client, limits.queued, runningIds),
    store.doneRecords(0, limits.done),
    store.doneCount(),
    queue.getJobCounts('waiting', 'prioritized', 'delayed'),
  ]);
  const starting = queued.filter((q) => q.state === 'starting').length;
  const settling = queued.filter((q) => q.state === 'settling').length;
  const now = Date.now();
  const runningViews = await Promise.all(
    running
      .sort((a, b) => a.startedAt - b.startedAt)
      .map(async (r): Promise<RunningView> => {
        const { progress, reportedTime } = await readLogReport(path.join(layout.running, r.name, 'process.log'));
        return {
          name: r.name,
          id: r.id,
          nbProc: r.nbProc,
          cpus: r.cpus,
          worker: r.worker,
          host: r.host,
          startedAt: new Date(r.startedAt).toISOString(),
          elapsedSeconds: Math.max(0, (now - r.startedAt) / 1000),
          progress: progress ? { ...progress, percent: Math.min(100, Math.round((100 * progress.done) / progress.total)) } : null,
          reportedSeconds: reportedTime ?? null,
          owner: r.email ?? null,
          info: r.info ?? null,
        };
      }),
  );
  return {
    version: 1,
    qmFolder: layout.root,
    generatedAt: new Date(now).toISOString(),
    queued,
    queuedTotal: starting + (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + settling,
    running: runningViews,
    done: done.map(doneView),
    doneTotal,
  };
}

function queuedView(job: Job<QueuedJob>, state: QueuedView['state'], position: number | null): QueuedView {
  const d = job.data;
  return {
    position,
    name: d.name,
    id: job.id ?? null,
    state,
    priority: d.priority,
    nbProc: d.nbProc,
    owner: d.email ?? null,
    info: d.info ?? null,
    after: d.after ?? [],
    enqueuedAt: iso(d.enqueuedAt),
    worker: state === 'starting' ? (job.processedBy ?? null) : null,
  };
}

async function queuedViews(client: Client, limit: number, runningIds: Set<string>): Promise<QueuedView[]> {
  const queue = client.store.queue;
  const end = Number.isFinite(limit) ? limit - 1 : -1;
  const get = async (type: 'active' | 'waiting' | 'prioritized' | 'delayed', last = end) =>
    (await queue.getJobs([type], 0, last, true)).filter((j): j is Job<QueuedJob> => Boolean(j?.data?.name)) as Job<QueuedJob>[];
  const [all, waiting, prioritized, delayed] = await Promise.all([get('active', -1), get('waiting'), get('prioritized'), get('delayed')]);
  // active and not running yet: a worker is claiming it
  const active = all.filter((j) => !runningIds.has(j.id ?? ''));
  const inOrder = [...active.map((j) => ({ j, s: 'starting' as const })), ...[...waiting, ...prioritized].map((j) => ({ j, s: 'queued' as const }))];
  const views = inOrder.map(({ j, s }, i) => queuedView(j, s, i + 1));
  views.push(...delayed.map((j) => queuedView(j, 'after', null)));
  const known = new Set(views.map((v) => v.name));
  const entries = await fs.readdir(client.layout.queued).catch(() => [] as string[]);
  const queuedNames = await client.store.queuedNames();
  for (const entry of entries) {
    if (isIgnoredName(entry) || known.has(entry) || queuedNames.has(entry)) continue;
    views.push({ position: null, name: entry, id: null, state: 'settling', priority: null, nbProc: null, owner: null, info: null, after: [], enqueuedAt: null, worker: null });
  }
  return views.slice(0, limit);
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
  };
}
