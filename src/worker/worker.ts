/**
 * The worker role (SPEC §3, §4).
 * 1. Takes the jobs its processor budget lets it start now, in queue order
 *    (pick.ts: one Redis script decides and takes, so jobs are shared by many
 *    workers exactly once, no job waits on a worker without room, and a big job
 *    is not starved by small ones); wakes when a job ends or the queue changes.
 * 2. Claims by renaming QM_qJobs/NAME to QM_Jobs/NAME (once its `after` jobs
 *    have succeeded: job-hooks.ts); acknowledges in BullMQ after QM_dJobs.
 * 3. Keeps the locks of its jobs alive and a heartbeat of itself in Redis;
 *    handles jobs of workers that vanished (stalled jobs).
 * 4. Obeys kill requests from the control channel.
 * 5. Stops on request: waits for its jobs, or requeues them, or kills them.
 */
import { Job, Worker, type QueueEvents } from 'bullmq';
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
import { JobPicker, type Pick } from './pick.js';
import { Wakeup, wakeOnQueueChanges } from './wakeup.js';
import { JobHooks } from './job-hooks.js';

export const LOCK_MS = 20_000;
export const STALLED_INTERVAL_MS = 10_000;
const HEARTBEAT_MS = 2_000;
export const HEARTBEAT_TTL_S = 10;
/** Longest sleep of the fetch loop, in case a queue event was missed (e.g. while Redis was away). */
const RECHECK_MS = 1_000;

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
  private readonly queueEvents: QueueEvents;
  private readonly picker: JobPicker;
  private readonly wakeup = new Wakeup();
  /** the job the last pick said this worker waits for (logged once) */
  private waitingFor: string | undefined;
  private readonly store: JobStore;
  private readonly bull: Worker;
  private readonly budget: Budget;
  private readonly hooks: JobHooks;
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
    this.picker = new JobPicker(this.redis, this.bull.keys);
    this.queueEvents = wakeOnQueueChanges(this.redis, this.wakeup, this.log);
    this.hooks = new JobHooks(settings, this.store, this.layout, this.log);
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
    const beat = this.redis.multi().set(keys.worker(this.name), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_S);
    await beat.sadd(keys.workers, this.name).exec();
  }

  /**
   * Starts jobs while the queue has some this worker may start (see pick.ts),
   * then sleeps until a job ends, the queue changes, or RECHECK_MS passes.
   */
  private async loop(): Promise<void> {
    while (!this.stopping) {
      const token = `${this.instance}:${++this.tokens}`;
      let pick: Pick;
      try {
        pick = await this.picker.pick({ worker: this.name, token, lockMs: LOCK_MS, free: this.budget.free, budget: this.budget.max });
      } catch (err) {
        if (this.stopping) break;
        this.log.debug(`fetch failed: ${(err as Error).message}`);
        await this.wakeup.wait(500);
        continue;
      }
      if (pick.kind === 'taken' || pick.kind === 'recover') {
        const work =
          pick.kind === 'taken'
            ? this.take(pick.id, token, pick.nbProc)
            : this.hold(pick.id, token).then((held) => held && this.settleUnclaimed(held));
        await work.catch((err: Error) => this.log.error(`job ${pick.id}: could not start: ${err.message}`));
        continue;
      }
      if (pick.kind === 'waiting' && this.waitingFor !== pick.id) {
        this.log.debug({ job: pick.name }, `next here: waiting for ${pick.nbProc} processors (${this.budget.inUse} in use)`);
      }
      this.waitingFor = pick.kind === 'waiting' ? pick.id : undefined;
      const untilDue = pick.kind === 'none' && pick.nextDelayedAt ? pick.nextDelayedAt - Date.now() : RECHECK_MS;
      await this.wakeup.wait(Math.min(RECHECK_MS, untilDue));
    }
  }

  /** Claims and starts a job the picker made active under `token`, with nbProc processors free here. */
  private async take(id: string, token: string, nbProc: number): Promise<void> {
    // reserved before any await: meanwhile only the end of a job changes the budget
    const cpus = this.budget.take(nbProc);
    let started = false;
    try {
      started = await this.claimAndStart(id, token, nbProc, cpus);
    } finally {
      if (!started) this.releaseProcessors(nbProc, cpus);
    }
  }

  private async claimAndStart(id: string, token: string, nbProc: number, cpus: number[]): Promise<boolean> {
    const held = await this.hold(id, token);
    if (!held) return false;
    try {
      if (this.stopping) {
        await this.release(held, 'wait');
        return false;
      }
      if ((await this.hooks.holdsBack(held)) || !(await this.claim(held))) return false;
      await this.run(held, nbProc, cpus);
      return true;
    } catch (err) {
      clearInterval(held.lockTimer);
      throw err;
    }
  }

  /** Starts a claimed job; its processors are given back as soon as its processes have ended. */
  private async run(held: Held, nbProc: number, cpus: number[]): Promise<void> {
    const { job, token } = held;
    const id = job.id!;
    const data = job.data;
    if (nbProc < data.nbProc) this.log.info({ job: data.name }, `nb_proc ${data.nbProc} limited to ${nbProc}: no live worker has more`);
    const startedAt = new Date();
    const info: RunningInfo = {
      id,
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
      { id, job: data, nbProc, cpus, worker: this.name, host: this.host, startedAt },
      this.layout,
      this.settings.server.killGrace,
    );
    this.active.set(id, { ...active, held });
    // the processors are free once the job's processes have ended: the next
    // job starts while this one is still being moved and recorded
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.releaseProcessors(nbProc, cpus);
    };
    void active.process.done.then(release);
    this.log.info(
      { job: data.name },
      `started (${nbProc} processor${nbProc > 1 ? 's' : ''}${cpus.length ? `, cpus ${cpus.join(',')}` : ''})`,
    );
    void active.finished
      .then(async (record) => {
        await this.hooks.recordEnd(record, data);
        this.log.info({ job: data.name }, `finished: ${describeOutcome(record.outcome)} → ${record.folder}`);
        await job.moveToCompleted(record, token, false).catch((err: Error) =>
          this.log.debug({ job: data.name }, `bullmq completion: ${err.message}`),
        );
      })
      .catch((err: Error) => this.log.error({ job: data.name }, `could not finish: ${err.message}`))
      .finally(() => {
        clearInterval(held.lockTimer);
        this.active.delete(id);
        release();
        void this.beat().catch(() => undefined);
      });
  }

  /** The job the picker made active under `token`, with its lock kept alive; undefined if it vanished. */
  private async hold(id: string, token: string): Promise<Held | undefined> {
    const job = (await Job.fromId(this.bull, id)) as Job<QueuedJob> | undefined;
    if (!job) {
      this.log.debug(`job ${id} vanished before it started`);
      return undefined;
    }
    const lockTimer = setInterval(() => void job.extendLock(token, LOCK_MS).catch(() => undefined), LOCK_MS / 4);
    return { job, token, lockTimer };
  }

  private releaseProcessors(nbProc: number, cpus: number[]): void {
    this.budget.release(nbProc, cpus);
    this.wakeup.notify();
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
    await this.settleUnclaimed(held);
    return false;
  }

  /** The folder was not in QM_qJobs: a lost worker's job to recover, or a job cancelled meanwhile. */
  private async settleUnclaimed(held: Held): Promise<void> {
    const { job } = held;
    const name = job.data.name;
    const previous = await this.store.runningInfo(job.id!);
    if (previous) {
      await recoverOrphan({ store: this.store, layout: this.layout, settings: this.settings, log: this.log }, job, held.token, previous);
    } else {
      this.log.info({ job: name }, 'folder no longer queued (cancelled or deleted): dropped');
      await this.store.forgetName(name, job.id!);
      await job.moveToCompleted({ dropped: true }, held.token, false).catch(() => undefined);
    }
    clearInterval(held.lockTimer);
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
      this.wakeup.notify();
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
    await this.queueEvents.close().catch(() => undefined);
    await this.redis.multi().del(keys.worker(this.name)).srem(keys.workers, this.name).exec().catch(() => undefined);
    await this.hooks.close();
    this.control.disconnect();
    await this.store.queue.close().catch(() => undefined);
    this.redis.disconnect();
  }
}
