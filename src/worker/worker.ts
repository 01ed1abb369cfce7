/**
 * The worker role (SPEC §3, §4).
 * 1. Fetches jobs itself (a BullMQ Worker without processor) only while its
 *    processor budget has room; holds a fetched job that does not fit yet and
 *    takes nothing else meanwhile, so a big job is not starved by small ones.
 * 2. Claims by renaming QM_qJobs/NAME to QM_Jobs/NAME; acknowledges in BullMQ
 *    only after the folder has reached QM_dJobs.
 * 3. Keeps the locks of its jobs alive and a heartbeat of itself in Redis;
 *    handles jobs of workers that vanished (stalled jobs).
 * 4. Obeys kill requests from the control channel.
 * 5. Stops on request: waits for its jobs, or requeues them, or kills them.
 * 6. Puts aside jobs whose `after` jobs have not succeeded yet (dependencies.ts)
 *    and mails finished jobs (mail.ts).
 */
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Settings } from '../core/settings-types.js';
import { layoutOf, type Layout } from '../core/folders.js';
import { logger, type Logger } from '../core/log.js';
import { BULL_PREFIX, QUEUE_NAME, connect, keys, openQueue } from '../core/redis.js';
import { JobStore } from '../core/jobstore.js';
import { describeOutcome, type QueuedJob, type RunningInfo } from '../core/status.js';
import { Budget } from './budget.js';
import { startJob, type ActiveJob } from './run-job.js';
import { recoverOrphan } from './orphans.js';
import { workerCpus } from './cpus.js';
import { DependencyGate } from './dependencies.js';
import { JobMailer } from './mail.js';

export const LOCK_MS = 20_000;
export const STALLED_INTERVAL_MS = 10_000;
const HEARTBEAT_MS = 2_000;
export const HEARTBEAT_TTL_S = 10;

export interface Heartbeat {
  name: string;
  instance: string;
  host: string;
  pid: number;
  budget: number;
  inUse: number;
  jobs: string[];
  startedAt: number;
}

interface Held {
  job: Job<QueuedJob>;
  token: string;
  lockTimer: NodeJS.Timeout;
}

export class WorkerRole {
  private readonly log: Logger;
  private readonly layout: Layout;
  private readonly redis: Redis;
  private readonly control: Redis;
  private readonly store: JobStore;
  private readonly bull: Worker;
  private readonly budget: Budget;
  private readonly mailer: JobMailer | undefined;
  private readonly gate: DependencyGate;
  private readonly active = new Map<string, ActiveJob & { held: Held }>();
  private readonly instance = randomBytes(6).toString('hex');
  private readonly host = os.hostname();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private loopDone: Promise<void> = Promise.resolve();
  private tokens = 0;

  constructor(
    private readonly settings: Settings,
    redisUrl: string,
  ) {
    this.log = logger('worker');
    const server = settings.server;
    this.layout = layoutOf(server.qmFolder);
    this.redis = connect(redisUrl, this.log, 'worker');
    this.control = connect(redisUrl, this.log, 'worker control');
    this.store = new JobStore(this.redis, openQueue(this.redis), server.keepDone);
    const cpus = workerCpus(server, this.log);
    this.budget = new Budget(server.maxNbProcessors, server.launchType === 'blocking', cpus);
    this.bull = new Worker(QUEUE_NAME, null, {
      connection: this.redis,
      prefix: BULL_PREFIX,
      autorun: false,
      lockDuration: LOCK_MS,
      stalledInterval: STALLED_INTERVAL_MS,
      maxStalledCount: 1_000_000,
      name: server.workerName,
    });
    this.bull.on('error', (err) => this.log.debug(`bullmq: ${err.message}`));
    this.mailer = JobMailer.create(settings, this.log);
    this.gate = new DependencyGate(this.store, this.layout, this.log, (rec, job) => this.mailer?.notify(rec, job.mailType));
  }

  get name(): string {
    return this.settings.server.workerName;
  }

  async start(): Promise<void> {
    await this.beat();
    this.heartbeatTimer = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_MS);
    await this.control.subscribe(keys.control);
    this.control.on('message', (_channel: string, message: string) => this.onControl(message));
    void this.bull.startStalledCheckTimer();
    const b = this.budget;
    this.log.info(
      `worker ${this.name} ready: ${b.max} processors, ${this.settings.server.launchType}` +
        (this.settings.server.debug ? ` (instance ${this.instance})` : ''),
    );
    this.loopDone = this.loop();
  }

  private async beat(): Promise<void> {
    const hb: Heartbeat = {
      name: this.name,
      instance: this.instance,
      host: this.host,
      pid: process.pid,
      budget: this.budget.max,
      inUse: this.budget.inUse,
      jobs: [...this.active.keys()],
      startedAt: Date.now(),
    };
    await this.redis.set(keys.worker(this.name), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_S);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (!this.budget.hasRoom) {
        await this.budget.changed();
        continue;
      }
      const token = `${this.instance}:${++this.tokens}`;
      let job: Job<QueuedJob> | undefined;
      try {
        job = (await this.bull.getNextJob(token, { block: true })) as Job<QueuedJob> | undefined;
      } catch (err) {
        if (this.stopping) break;
        this.log.debug(`fetch failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!job) continue;
      if (this.stopping) {
        await job.moveToWait(token).catch(() => undefined);
        break;
      }
      if (await this.gate.holds(job, token)) continue;
      await this.take(job, token).catch((err: Error) =>
        this.log.error({ job: job.name }, `could not start: ${err.message}`),
      );
    }
  }

  /** Waits for room for a fetched job, claims it and starts it. */
  private async take(job: Job<QueuedJob>, token: string): Promise<void> {
    const held: Held = {
      job,
      token,
      lockTimer: setInterval(() => void job.extendLock(token, LOCK_MS).catch(() => undefined), LOCK_MS / 4),
    };
    const data = job.data;
    const nbProc = this.budget.clamp(data.nbProc);
    if (nbProc < data.nbProc) this.log.info({ job: data.name }, `nb_proc ${data.nbProc} limited to ${nbProc}`);
    while (!this.budget.fits(nbProc)) {
      if (this.stopping) return this.release(held, 'wait');
      this.log.debug({ job: data.name }, `waiting for ${nbProc} processors (${this.budget.inUse} in use)`);
      await this.budget.changed();
    }
    const claimed = await this.claim(held);
    if (!claimed) return;
    const cpus = this.budget.take(nbProc);
    const startedAt = new Date();
    const info: RunningInfo = {
      id: job.id!,
      name: data.name,
      worker: this.name,
      instance: this.instance,
      host: this.host,
      pid: process.pid,
      nbProc,
      cpus,
      startedAt: startedAt.getTime(),
      enqueuedAt: data.enqueuedAt,
      info: data.info,
      email: data.email,
    };
    await this.store.markRunning(info);
    const active = await startJob(
      { id: job.id!, job: data, nbProc, cpus, worker: this.name, host: this.host, startedAt },
      this.layout,
      this.settings.server.killGrace,
    ).catch((err: Error) => {
      this.budget.release(nbProc, cpus);
      throw err;
    });
    this.active.set(job.id!, { ...active, held });
    this.log.info(
      { job: data.name },
      `started (${nbProc} processor${nbProc > 1 ? 's' : ''}${cpus.length ? `, cpus ${cpus.join(',')}` : ''})`,
    );
    void active.finished
      .then(async (record) => {
        await this.store.recordDone(record);
        this.log.info({ job: data.name }, `finished: ${describeOutcome(record.outcome)} → ${record.folder}`);
        this.mailer?.notify(record, data.mailType);
        await job.moveToCompleted(record, token, false).catch((err: Error) =>
          this.log.debug({ job: data.name }, `bullmq completion: ${err.message}`),
        );
      })
      .catch((err: Error) => this.log.error({ job: data.name }, `could not finish: ${err.message}`))
      .finally(() => {
        clearInterval(held.lockTimer);
        this.active.delete(job.id!);
        this.budget.release(nbProc, cpus);
        void this.beat().catch(() => undefined);
      });
  }

  /** The rename into QM_Jobs; false when the job is not to run here. */
  private async claim(held: Held): Promise<boolean> {
    const { job } = held;
    const name = job.data.name;
    try {
      await fs.rename(path.join(this.layout.queued, name), path.join(this.layout.running, name));
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        // a job of the same name is running: this one waits for it
        this.log.info({ job: name }, 'a job of this name is running; retrying in 2 s');
        await this.release(held, 'delay');
        return false;
      }
      if (code !== 'ENOENT') throw err;
    }
    const previous = await this.store.runningInfo(job.id!);
    if (previous) {
      await recoverOrphan({ store: this.store, layout: this.layout, settings: this.settings, log: this.log }, job, held.token, previous);
    } else {
      this.log.info({ job: name }, 'folder no longer queued (cancelled or deleted): dropped');
      await this.store.forgetName(name, job.id!);
      await job.moveToCompleted({ dropped: true }, held.token, false).catch(() => undefined);
    }
    clearInterval(held.lockTimer);
    return false;
  }

  private async release(held: Held, how: 'wait' | 'delay'): Promise<void> {
    clearInterval(held.lockTimer);
    if (how === 'wait') await held.job.moveToWait(held.token).catch(() => undefined);
    else await held.job.moveToDelayed(Date.now() + 2000, held.token).catch(() => undefined);
  }

  private onControl(message: string): void {
    let msg: { type?: string; id?: string; by?: string };
    try {
      msg = JSON.parse(message) as typeof msg;
    } catch {
      return;
    }
    if (msg.type !== 'kill' || !msg.id) return;
    const active = this.active.get(msg.id);
    if (!active) return;
    this.log.info({ job: active.run.job.name }, `kill requested by ${msg.by ?? 'someone'}`);
    active.stop({ kind: 'killed', by: msg.by ?? 'request' });
  }

  /**
   * Stops taking work. `wait`: let running jobs end; `kill`: stop them now
   * (recorded as killed by shutdown); `requeue` is handled as kill + move back.
   */
  async stop(mode: 'wait' | 'kill' | 'requeue'): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.budget.wake();
      this.log.info(`stopping: ${this.active.size} running job(s) will be ${mode === 'wait' ? 'waited for' : 'killed'}`);
    }
    if (mode !== 'wait') for (const a of this.active.values()) a.stop({ kind: 'killed', by: 'shutdown' });
    await Promise.allSettled([...this.active.values()].map((a) => a.finished));
  }

  /** After stop(): all jobs have ended; close connections. */
  async close(): Promise<void> {
    await this.bull.close(true).catch(() => undefined);
    await this.loopDone.catch(() => undefined);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.redis.del(keys.worker(this.name)).catch(() => undefined);
    await this.mailer?.close();
    this.control.disconnect();
    await this.store.queue.close().catch(() => undefined);
    this.redis.disconnect();
  }

  /** Counts for status and tests. */
  get load(): { inUse: number; budget: number; running: number } {
    return { inUse: this.budget.inUse, budget: this.budget.max, running: this.budget.running };
  }
}
