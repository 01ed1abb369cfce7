/**
 * The worker role (SPEC §3, §4).
 * 1. Fetches jobs itself (a BullMQ Worker without processor) only while its
 *    processor budget has room; holds a fetched job that does not fit yet and
 *    takes nothing else meanwhile, so a big job is not starved by small ones.
 * 2. Claims by renaming QM_qJobs/NAME to QM_Jobs/NAME; acknowledges in BullMQ
 *    only after the folder has reached QM_dJobs.
 * 3. Keeps the locks of its jobs alive, a heartbeat of itself and its running
 *    entries in Redis (written again after a wipe); moves the jobs of workers
 *    that vanished, its own earlier instance's first (orphans.ts).
 * 4. Obeys kill requests from the control channel.
 * 5. Stops on request: waits for its jobs, or requeues them, or kills them.
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
import { BULL_PREFIX, QUEUE_NAME, connect, finishUnlessAway, keys, openQueue } from '../core/redis.js';
import { JobStore } from '../core/jobstore.js';
import { describeOutcome, type QueuedJob, type RunningInfo } from '../core/status.js';
import { Budget } from './budget.js';
import { startJob, type ActiveJob, type StopReason } from './run-job.js';
import { OrphanReaper } from './orphans.js';
import { workerCpus } from './cpus.js';
import { HEARTBEAT_MS, HEARTBEAT_TTL_S, pidSpace, takeWorkerName, type Heartbeat } from './liveness.js';
import { requeueInRedis } from './requeue.js';

export { HEARTBEAT_TTL_S, type Heartbeat };
export const LOCK_MS = 20_000;
export const STALLED_INTERVAL_MS = 10_000;
/** At shutdown, how long to wait for Redis to take the records of jobs that ended. */
const RECORD_WAIT_MS = 10_000;

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
  private readonly active = new Map<string, ActiveJob & { held: Held; info: RunningInfo }>();
  private readonly instance = randomBytes(6).toString('hex');
  private readonly host = os.hostname();
  private readonly startedAt = Date.now();
  private readonly reaper: OrphanReaper;
  /** ended jobs whose record or requeue is still being written to Redis */
  private readonly settling = new Set<Promise<void>>();
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
    this.reaper = new OrphanReaper({
      store: this.store,
      layout: this.layout,
      settings,
      log: this.log,
      holder: `${server.workerName}/${this.instance}`,
    });
  }

  get name(): string {
    return this.settings.server.workerName;
  }

  async start(): Promise<void> {
    await takeWorkerName(this.redis, this.name, this.instance, this.log);
    await this.beat();
    this.heartbeatTimer = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_MS);
    await this.control.subscribe(keys.control);
    this.control.on('message', (_channel: string, message: string) => this.onControl(message));
    void this.bull.startStalledCheckTimer().catch((err: Error) => this.log.debug(`stalled check: ${err.message}`));
    // the jobs an earlier instance of this worker left are settled first
    this.reaper.start();
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
      pidSpace,
      budget: this.budget.max,
      inUse: this.budget.inUse,
      jobs: [...this.active.keys()],
      startedAt: this.startedAt,
      beatAt: Date.now(),
    };
    await this.redis.set(keys.worker(this.name), JSON.stringify(hb), 'EX', HEARTBEAT_TTL_S);
    const { rewritten, lost } = await this.store.reassertRunning([...this.active.values()].map((a) => a.info));
    if (rewritten > 0) this.log.info(`${rewritten} running job(s) written again to Redis (it had lost them)`);
    for (const id of lost) this.active.get(id)?.stop({ kind: 'abandoned' });
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
      pidSpace,
      token,
      nbProc,
      cpus,
      startedAt: startedAt.getTime(),
      enqueuedAt: data.enqueuedAt,
      info: data.info,
      email: data.email,
    };
    await this.store.markRunning(info);
    // a running entry never appears without this worker's heartbeat (a wipe removed it)
    void this.beat().catch(() => undefined);
    const active = await startJob(
      { id: job.id!, job: data, nbProc, cpus, worker: this.name, host: this.host, startedAt },
      this.layout,
      this.settings.server.killGrace,
      () => this.store.isMarkedLost(info.id, this.instance),
    ).catch((err: Error) => {
      this.budget.release(nbProc, cpus);
      throw err;
    });
    this.active.set(job.id!, { ...active, held, info });
    this.log.info(
      { job: data.name },
      `started (${nbProc} processor${nbProc > 1 ? 's' : ''}${cpus.length ? `, cpus ${cpus.join(',')}` : ''})`,
    );
    const settled = active.finished
      .then(async (record) => {
        if (!record) return this.requeued(info);
        await this.store.recordDone(record);
        this.log.info({ job: data.name }, `finished: ${describeOutcome(record.outcome)} → ${record.folder}`);
        await job.moveToCompleted(record, token, false).catch((err: Error) =>
          this.log.debug({ job: data.name }, `bullmq completion: ${err.message}`),
        );
      })
      .catch((err: Error) => this.log.error({ job: data.name }, `could not finish: ${err.message}`))
      .finally(() => {
        clearInterval(held.lockTimer);
        this.active.delete(job.id!);
        this.budget.release(nbProc, cpus);
        this.settling.delete(settled);
        void this.beat().catch(() => undefined);
      });
    this.settling.add(settled);
  }

  /** Stopped by `shutdown = requeue`: its folder is back in QM_qJobs. */
  private async requeued(info: RunningInfo): Promise<void> {
    clearInterval(this.active.get(info.id)?.held.lockTimer);
    const same = await requeueInRedis(this.store, info, false);
    this.log.info({ job: info.name }, `stopped and put back in QM_qJobs${same ? '' : ' (to be queued again)'}`);
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
      if (code !== 'ENOENT') {
        // not ours to move (permissions...): out of the queue; ingest says why once
        this.log.error({ job: name }, `cannot claim: ${(err as Error).message}`);
        await this.drop(held, { refused: code });
        return false;
      }
    }
    if (await this.store.runningInfo(job.id!)) {
      // BullMQ handed back a running job (its lock lapsed): its worker, or the lost-worker check, ends it
      this.log.debug({ job: name }, 'handed back while running: left to its worker');
    } else if (await this.store.isDone(job.id!)) {
      this.log.debug({ job: name }, 'handed back after it ended: nothing to do');
    } else {
      this.log.info({ job: name }, 'folder no longer queued (cancelled or deleted): dropped');
    }
    await this.drop(held, { dropped: true });
    return false;
  }

  /** Takes a fetched job out of the queue without running it. */
  private async drop(held: Held, result: object): Promise<void> {
    clearInterval(held.lockTimer);
    await this.store.forgetName(held.job.data.name, held.job.id!);
    await held.job.moveToCompleted(result, held.token, false).catch(() => undefined);
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
   * (recorded as killed by shutdown); `requeue`: stop them now and put their
   * folders back in QM_qJobs, to run again from the start.
   */
  async stop(mode: 'wait' | 'kill' | 'requeue'): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.budget.wake();
      const fate = { wait: 'waited for', kill: 'killed', requeue: 'stopped and put back in QM_qJobs' }[mode];
      this.log.info(`stopping: ${this.active.size} running job(s) will be ${fate}`);
    }
    const reason: StopReason = mode === 'requeue' ? { kind: 'requeue' } : { kind: 'killed', by: 'shutdown' };
    if (mode !== 'wait') for (const a of this.active.values()) a.stop(reason);
    await Promise.allSettled([...this.active.values()].map((a) => a.finished));
  }

  /** After stop(): all jobs have ended; their records written (if Redis answers in time); close connections. */
  async close(): Promise<void> {
    // with Redis away, fetching is stuck on it: nothing there to wait for
    await finishUnlessAway(this.redis, [this.bull.close(true).catch(() => undefined), this.loopDone], 0);
    if (!(await finishUnlessAway(this.redis, [...this.settling], RECORD_WAIT_MS))) {
      this.log.warn(`redis unreachable: ${this.settling.size} ended job(s) not recorded in it (their folders are in QM_dJobs)`);
    }
    await this.reaper.stop();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    // with Redis away these would wait for it; the heartbeat lapses by itself
    if (this.redis.status === 'ready') await this.redis.del(keys.worker(this.name)).catch(() => undefined);
    this.control.disconnect();
    if (this.redis.status === 'ready') await this.store.queue.close().catch(() => undefined);
    this.redis.disconnect();
  }

  /** Counts for status and tests. */
  get load(): { inUse: number; budget: number; running: number } {
    return { inUse: this.budget.inUse, budget: this.budget.max, running: this.budget.running };
  }
}
