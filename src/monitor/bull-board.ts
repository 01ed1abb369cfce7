/**
 * Bull Board at `/queues`, mounted as it is, with QM's title and links back
 * to the QM pages. Its buttons show only where QM's actions are on, and are
 * answered by bull-board-actions.ts (QM's operations), never by BullMQ
 * directly. The queue adapter adds what QM knows about each job: QM's fields
 * first in its data (name, user, processors, GPUs, memory, host, outcome,
 * folder, QM page), its progress (the last `i / n` of process.log) and the
 * end of process.log as the job's log lines.
 */
import path from 'node:path';
import type { Job, Queue } from 'bullmq';
import type { Router } from 'express';
import { createBullBoard } from '@bull-board/api';
import type { IServerAdapter } from '@bull-board/api/typings/app';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { describeOutcome, type QueuedJob } from '../core/status.js';
import { readSlice } from '../core/process-log.js';
import { readLogReport } from '../core/progress.js';
import type { ReadModel } from '../core/read-model.js';
import { jobUrl } from './pages/format.js';

/** Lines of process.log shown as a job's logs in Bull Board. */
const LOG_LINES = 200;

class QmQueueAdapter extends BullMQAdapter {
  constructor(
    queue: Queue,
    private readonly model: ReadModel,
    actions: boolean,
  ) {
    super(queue, {
      readOnlyMode: !actions,
      allowRetries: actions,
      displayName: 'QM jobs',
      description: actions
        ? 'The QM queue: one BullMQ job per job folder. Retry = qm requeue, Remove = qm cancel (finished: forget its record), Promote = qm release, Pause = qm pause.'
        : 'The QM queue: one BullMQ job per job folder. Act on jobs from the QM pages.',
      externalJobUrl: (job) => ({ displayText: 'QM job page', href: jobUrl(String(job.name), job.id === undefined ? undefined : String(job.id)) }),
    });
  }

  /** The folder of BullMQ job `id` where it is now (running, done, or still queued). */
  private async folderOf(id: string): Promise<string | undefined> {
    const job = (await super.getJob(id)) as Job<QueuedJob> | undefined;
    const name = job?.data?.name;
    if (!name) return undefined;
    const view = await this.model.find(name, id);
    return view && this.model.folderOf(view);
  }

  /** Active jobs carry the progress of their process.log (QM's workers do not report it to BullMQ). */
  private async withProgress(job: Job<QueuedJob>): Promise<Job<QueuedJob>> {
    if (!job.processedOn || job.finishedOn || !job.data?.name) return job;
    const { progress } = await readLogReport(path.join(this.model.layout.running, job.data.name, 'process.log'));
    if (progress) job.progress = progress.percent;
    return job;
  }

  /** QM's fields first in the job's data, as Bull Board shows it. */
  private async withQmFields(job: Job<QueuedJob>): Promise<Job<QueuedJob>> {
    const data = job.data;
    if (!data?.name || job.id === undefined) return job;
    const view = await this.model.find(data.name, job.id);
    const folder = view && this.model.folderOf(view);
    const run = view?.state === 'running' ? view.info : undefined;
    const record = view?.state === 'done' ? view.record : undefined;
    const fields = {
      name: data.name,
      user: data.owner?.user ?? null,
      processors: run?.nbProc ?? record?.nbProc ?? data.nbProc,
      gpus: run?.gpus?.join(',') ?? record?.gpus?.join(',') ?? (data.nbGpu ? `${data.nbGpu} asked` : null),
      memory: (run?.memoryMb ?? record?.memoryMb ?? data.memoryMb) !== undefined ? `${run?.memoryMb ?? record?.memoryMb ?? data.memoryMb} MB` : null,
      host: run?.host ?? record?.host ?? null,
      state: view?.state === 'queued' ? `${view.phase} (${view.reason})` : (view?.state ?? 'gone'),
      outcome: record ? describeOutcome(record.outcome) : null,
      folder: folder ? path.relative(this.model.layout.root, folder) : null,
      page: jobUrl(data.name, job.id),
    };
    job.data = { QM: fields, ...data } as QueuedJob;
    return job;
  }

  private async decorated(job: Job<QueuedJob>): Promise<Job<QueuedJob>> {
    return this.withQmFields(await this.withProgress(job));
  }

  override async getJob(id: string): Promise<Job | undefined> {
    const job = (await super.getJob(id)) as Job<QueuedJob> | undefined;
    return job && this.decorated(job);
  }

  override async getJobs(...args: Parameters<BullMQAdapter['getJobs']>): Promise<Job[]> {
    const jobs = (await super.getJobs(...args)) as Job<QueuedJob>[];
    return Promise.all(jobs.map((j) => this.decorated(j)));
  }

  override async getJobLogs(id: string): Promise<string[]> {
    const own = await super.getJobLogs(id);
    const folder = await this.folderOf(id);
    if (!folder) return own;
    const slice = await readSlice(path.join(folder, 'process.log'), -64 * 1024, 64 * 1024).catch(() => undefined);
    if (!slice) return own;
    const lines = slice.text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
    if (slice.start > 0) lines.shift(); // the first line is cut
    return [...own, ...lines.slice(-LOG_LINES)];
  }
}

export function bullBoardRouter(queue: Queue, model: ReadModel, basePath: string, opts: { actions: boolean }): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: [new QmQueueAdapter(queue, model, opts.actions)],
    // @bull-board/express pins its own copy of @bull-board/api (9.10.1): same interface, distinct declarations
    serverAdapter: serverAdapter as unknown as IServerAdapter,
    options: {
      uiConfig: {
        boardTitle: 'QM',
        miscLinks: [
          { text: 'QM jobs', url: '/' },
          { text: 'QM stats', url: '/stats' },
        ],
        hideDocsLink: true,
      },
    },
  });
  return serverAdapter.getRouter() as Router;
}
