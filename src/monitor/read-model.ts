/**
 * What the monitor shows, read from Redis and the job folders; no writes.
 * 1. queued jobs in run order (BullMQ: held by a worker, waiting, prioritized,
 *    delayed), plus folders still settling in QM_qJobs;
 * 2. running jobs (`qm:running`) with their progress from process.log;
 * 3. done jobs, one page at a time from the `qm:done` zset (never a folder scan);
 * 4. one job by name (and id, which follows it from queued to running to done);
 * 5. the live workers (their heartbeats).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Job } from 'bullmq';
import { findJob } from '../core/actions.js';
import { isIgnoredName, type Layout } from '../core/folders.js';
import type { JobStore } from '../core/jobstore.js';
import { keys } from '../core/redis.js';
import type { DoneRecord, QueuedJob, RunningInfo } from '../core/status.js';
import { readLogReport, type Progress } from '../core/progress.js';

/** At most this many queued jobs are listed (the count is always exact). */
const QUEUED_SHOWN = 500;

export interface QueuedView {
  state: 'queued';
  name: string;
  id: string | undefined;
  /** the descriptor as queued; undefined while the folder is still settling (not queued yet) */
  job: QueuedJob | undefined;
  /** fetched by a worker that waits for room to start it */
  held: boolean;
}

export interface RunningView {
  state: 'running';
  name: string;
  id: string;
  info: RunningInfo;
  progress: Progress | undefined;
  /** seconds, the job's last `time: N` line */
  reportedTime: number | undefined;
}

export interface DoneView {
  state: 'done';
  name: string;
  id: string;
  record: DoneRecord;
}

export type JobView = QueuedView | RunningView | DoneView;

export interface DonePage {
  page: number;
  pages: number;
  perPage: number;
  total: number;
  records: DoneRecord[];
}

/** What a worker's heartbeat key holds (written by the worker role). */
export interface WorkerBeat {
  name: string;
  host: string;
  budget: number;
  inUse: number;
  jobs: string[];
}

export class ReadModel {
  constructor(
    readonly store: JobStore,
    readonly layout: Layout,
  ) {}

  async queued(): Promise<{ total: number; jobs: QueuedView[] }> {
    const queue = this.store.queue;
    const [counts, active, waiting, prioritized, delayed, runningIds, entries, names] = await Promise.all([
      queue.getJobCounts('waiting', 'prioritized', 'delayed'),
      queue.getJobs(['active'], 0, -1, true),
      queue.getJobs(['waiting'], 0, QUEUED_SHOWN - 1, true),
      queue.getJobs(['prioritized'], 0, QUEUED_SHOWN - 1, true),
      queue.getJobs(['delayed'], 0, QUEUED_SHOWN - 1, true),
      this.store.redis.hkeys(keys.running),
      fs.readdir(this.layout.queued).catch(() => [] as string[]),
      this.store.queuedNames(),
    ]);
    const running = new Set(runningIds);
    const held = (active as Job<QueuedJob>[]).filter((j) => !running.has(j.id!));
    const view = (j: Job<QueuedJob>, isHeld: boolean): QueuedView => ({
      state: 'queued', name: j.data.name, id: j.id, job: j.data, held: isHeld,
    });
    const jobs = [
      ...held.map((j) => view(j, true)),
      ...[...waiting, ...prioritized, ...delayed].map((j) => view(j as Job<QueuedJob>, false)),
    ].slice(0, QUEUED_SHOWN);
    const settling = entries.filter((n) => !isIgnoredName(n) && !names.has(n)).sort();
    for (const name of settling) jobs.push({ state: 'queued', name, id: undefined, job: undefined, held: false });
    const total = held.length + (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + settling.length;
    return { total, jobs };
  }

  async running(): Promise<RunningView[]> {
    const infos = (await this.store.running()).sort((a, b) => a.startedAt - b.startedAt);
    return Promise.all(infos.map((info) => this.runningView(info)));
  }

  /** Page `page` (from 1) of the done jobs, newest first. */
  async done(page: number, perPage: number): Promise<DonePage> {
    const total = await this.store.doneCount();
    const pages = Math.max(1, Math.ceil(total / perPage));
    const current = Math.min(Math.max(1, page), pages);
    const records = await this.store.doneRecords((current - 1) * perPage, perPage);
    return { page: current, pages, perPage, total, records };
  }

  /** Done records that ended in [from, to] (ms), for the stats page. */
  async doneBetween(from: number, to: number): Promise<DoneRecord[]> {
    const ids = await this.store.redis.zrangebyscore(keys.done, from, to);
    const records: DoneRecord[] = [];
    for (let i = 0; i < ids.length; i += 1000) records.push(...(await this.store.records(ids.slice(i, i + 1000))));
    return records;
  }

  /** The job `name`; with `id`, that very job (which may be an older done job of the same name). */
  async find(name: string, id?: string): Promise<JobView | undefined> {
    if (!id) return this.current(name);
    const info = await this.store.runningInfo(id);
    if (info?.name === name) return this.runningView(info);
    const [record] = await this.store.records([id]);
    if (record?.name === name) return { state: 'done', name, id, record };
    const current = await this.current(name);
    return current?.state === 'queued' && current.id === id ? current : undefined;
  }

  private async current(name: string): Promise<JobView | undefined> {
    const found = await findJob(this.store, this.layout, name);
    if (!found) return undefined;
    switch (found.state) {
      case 'queued': {
        const job = found.id ? await this.store.job(found.id) : undefined;
        const held = job ? (await job.getState()) === 'active' : false;
        return { state: 'queued', name, id: found.id, job: found.job, held };
      }
      case 'running':
        return this.runningView(found.info);
      case 'done':
        return { state: 'done', name, id: found.record.id, record: found.record };
    }
  }

  private async runningView(info: RunningInfo): Promise<RunningView> {
    const { progress, reportedTime } = await readLogReport(path.join(this.layout.running, info.name, 'process.log'));
    return { state: 'running', name: info.name, id: info.id, info, progress, reportedTime };
  }

  /** The job's folder now; undefined when a record points outside QM_FOLDER. */
  folderOf(view: JobView): string | undefined {
    if (view.state === 'queued') return path.join(this.layout.queued, view.name);
    if (view.state === 'running') return path.join(this.layout.running, view.name);
    const folder = path.resolve(this.layout.root, view.record.folder);
    return folder.startsWith(this.layout.root + path.sep) ? folder : undefined;
  }

  async workers(): Promise<WorkerBeat[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.store.redis.scan(cursor, 'MATCH', keys.workerPattern, 'COUNT', 200);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
    if (found.length === 0) return [];
    const values = await this.store.redis.mget(...found);
    return values
      .filter((v): v is string => v !== null)
      .map((v) => JSON.parse(v) as WorkerBeat)
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
