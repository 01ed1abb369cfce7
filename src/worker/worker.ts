/**
 * The worker role (SPEC §3, §4).
 * 1. Takes the jobs its processor budget lets it start now, in queue order
 *    (pick.ts: one Redis script decides and takes, so jobs are shared by many
 *    workers exactly once, no job waits on a worker without room, and a big job
 *    is not starved by small ones); wakes when a job ends or the queue changes.
 * 2. Claims by renaming QM_qJobs/NAME to QM_Jobs/NAME (once its `after` jobs
 *    have succeeded: dependencies.ts); the lifecycle acknowledges in BullMQ after QM_dJobs.
 * 3. Keeps the locks of its jobs alive, a heartbeat of itself and its running
 *    entries in Redis (heartbeat.ts); moves the jobs of workers
 *    that vanished, its own earlier instance's first (orphans.ts).
 * 4. Obeys kill requests from the control channel.
 * 5. Stops on request: waits for its jobs, or requeues them, or kills them.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Settings } from '../core/settings-types.js';
import { layoutOf, type Layout } from '../core/folders.js';
import { logger, type Logger } from '../core/log.js';
import { BULL_PREFIX, QUEUE_NAME, connect, finishUnlessAway, keys, openQueue } from '../core/redis.js';
import { JobStore, type Pick } from '../core/jobstore.js';
import { Lifecycle } from '../core/lifecycle.js';
import { JobMailer } from '../core/mail.js';
import { describeOutcome, type QueuedJob, type RunningInfo } from '../core/status.js';
import type { Job } from 'bullmq';
import { Budget, type Grant } from './budget.js';
import { workerPools } from './pools.js';
import { jobUser, type JobUser } from './run-as.js';
import path from 'node:path';
import { runningEntry, startedLine } from './running-entry.js';
import { killRequestIn } from '../core/coordination-store.js';
import { startJob, type ActiveJob, type StopReason } from './run-job.js';
import { OrphanReaper } from '../core/lost-workers.js';
import { HeartbeatWriter, heartbeatOf } from './heartbeat.js';
import { takeWorkerName } from '../core/liveness.js';
import { HEARTBEAT_TTL_S, type Heartbeat } from '../core/heartbeat.js';
import { Claims, LOCK_MS, type Held } from './claim.js';
import { workerCpus } from './cpus.js';
import { QueueWatch, Wakeup } from './wakeup.js';
import { DependencyGate, putBackUnreleased } from './dependencies.js';
import { Launcher } from './launch.js';
import { TmpDirs } from './tmp-dirs.js';

export { HEARTBEAT_TTL_S, LOCK_MS, type Heartbeat };
export const STALLED_INTERVAL_MS = 10_000;
/** At shutdown, how long to wait for Redis to take the records of jobs that ended. */
const RECORD_WAIT_MS = 10_000;
/** Longest sleep of the fetch loop, in case a queue event was missed (e.g. while Redis was away). */
const RECHECK_MS = 1_000;

export class WorkerRole {
  private readonly log: Logger;
  private readonly layout: Layout;
  private readonly redis: Redis;
  private readonly control: Redis;
  private readonly queueWatch: QueueWatch;
  private readonly wakeup = new Wakeup();
  /** the job the last pick said this worker waits for (logged once) */
  private waitingFor: string | undefined;
  private readonly store: JobStore;
  private readonly bull: Worker;
  private budget: Budget;
  private readonly cpus: number[];
  private readonly lifecycle: Lifecycle;
  private readonly mailer: JobMailer | undefined;
  private readonly gate: DependencyGate;
  private readonly claims: Claims;
  private readonly launcher: Launcher;
  private readonly tmpDirs = new TmpDirs();
  private readonly active = new Map<string, ActiveJob & { held: Held; info: RunningInfo }>();
  readonly instance = randomBytes(6).toString('hex');
  readonly host = os.hostname();
  readonly startedAt = Date.now();
  private readonly reaper: OrphanReaper;
  /** ended jobs whose record or requeue is still being written to Redis */
  private readonly settling = new Set<Promise<void>>();
  private readonly heartbeat: HeartbeatWriter;
  private lastPickAt = 0;
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
    this.cpus = workerCpus(server, this.log);
    // the GPU and memory pools are read at start
    this.budget = new Budget(server.maxNbProcessors, server.launchType === 'blocking', this.cpus);
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
    this.queueWatch = new QueueWatch(connect(redisUrl, this.log, 'worker events'), this.store.eventStream, this.wakeup, this.log);
    this.mailer = JobMailer.create(settings, this.log);
    this.lifecycle = new Lifecycle(this.store, this.layout, this.log, this.mailer);
    this.gate = new DependencyGate(this.lifecycle, this.log);
    this.claims = new Claims(this.lifecycle, this.log);
    this.launcher = new Launcher(this.log);
    this.heartbeat = new HeartbeatWriter(this.store, this.log, {
      heartbeat: () => heartbeatOf(this, this.budget, [...this.active.keys()]),
      running: () => [...this.active.values()].map((a) => a.info),
      onLost: (id) => this.active.get(id)?.stop({ kind: 'abandoned' }),
    });
    this.reaper = new OrphanReaper({
      lifecycle: this.lifecycle,
      settings,
      log: this.log,
      holder: `${server.workerName}/${this.instance}`,
    });
  }

  get name(): string {
    return this.settings.server.workerName;
  }

  async start(): Promise<void> {
    const server = this.settings.server;
    const pools = await workerPools(server);
    this.budget = new Budget(server.maxNbProcessors, server.launchType === 'blocking', this.cpus, pools.gpus, pools.memoryMb);
    await takeWorkerName(this.store, this.name, this.instance, this.log);
    this.launcher.start();
    await this.heartbeat.start();
    await this.control.subscribe(keys.control);
    this.control.on('message', (_channel: string, message: string) => this.onControl(message));
    void this.bull.startStalledCheckTimer().catch((err: Error) => this.log.debug(`stalled check: ${err.message}`));
    // the jobs an earlier instance of this worker left are settled first
    this.reaper.start();
    const instance = this.settings.server.debug ? ` (instance ${this.instance})` : '';
    this.log.info(`worker ${this.name} ready: ${this.budget.summary()}, ${this.settings.server.launchType}${instance}`);
    if (process.getuid?.() === 0) this.log.info('running as root: each job runs as the owner of its folder (setpriv)');
    this.loopDone = this.loop();
  }

  /**
   * Starts jobs while the queue has some this worker may start (see pick.ts),
   * then sleeps until a job ends, the queue changes, or RECHECK_MS passes.
   * With no processor free only a job's end or the recheck (which may find a
   * lost worker's job to recover) makes it look at the queue.
   */
  private async loop(): Promise<void> {
    while (!this.stopping) {
      const sincePick = Date.now() - this.lastPickAt;
      if (this.budget.free === 0 && sincePick < RECHECK_MS) {
        await this.wakeup.wait(RECHECK_MS - sincePick);
        continue;
      }
      this.lastPickAt = Date.now();
      this.queueWatch.ignore();
      const token = `${this.instance}:${++this.tokens}`;
      let pick: Pick;
      try {
        const b = this.budget;
        pick = await this.store.pick({
          worker: this.name, token, lockMs: LOCK_MS, free: b.free, budget: b.max,
          freeGpus: b.freeGpuCount, gpus: b.gpus.length, freeMemoryMb: b.freeMemoryMb, memoryMb: b.memoryMb,
        });
      } catch (err) {
        if (this.stopping) break;
        this.log.debug(`fetch failed: ${(err as Error).message}`);
        await this.wakeup.wait(500);
        continue;
      }
      if (pick.kind === 'taken' || pick.kind === 'recover') {
        const work =
          pick.kind === 'taken'
            ? this.take(pick.job, token, pick.nbProc)
            : this.claims.recover(pick.job, token);
        await work.catch((err: Error) => this.log.error({ job: pick.job.data.name }, `could not start: ${err.message}`));
        continue;
      }
      if (pick.kind === 'waiting' && this.waitingFor !== pick.id) {
        this.log.debug({ job: pick.name }, `next here: waiting for room for it (${this.budget.inUse} processors, ${this.budget.gpusInUse.length} GPUs, ${this.budget.memoryInUseMb} MB in use)`);
      }
      this.waitingFor = pick.kind === 'waiting' ? pick.id : undefined;
      this.queueWatch.watchAfter(pick.lastEventId);
      const untilDue = pick.kind === 'none' && pick.nextDelayedAt ? pick.nextDelayedAt - Date.now() : RECHECK_MS;
      await this.wakeup.wait(Math.min(RECHECK_MS, untilDue));
    }
  }

  /** Claims and starts a job the picker made active under `token`, with nbProc processors (and its GPUs and memory) free here. */
  private async take(job: Job<QueuedJob>, token: string, nbProc: number): Promise<void> {
    // reserved before any await: meanwhile only the end of a job changes the pools
    const grant = this.budget.take(nbProc, job.data.nbGpu ?? 0, job.data.memoryMb);
    let started = false;
    try {
      started = await this.claimAndStart(job, token, grant);
    } finally {
      if (!started) this.releasePools(grant);
    }
  }

  private async claimAndStart(job: Job<QueuedJob>, token: string, grant: Grant): Promise<boolean> {
    const held = this.claims.hold(job, token);
    try {
      if (this.stopping) {
        await this.claims.release(held, 'wait');
        return false;
      }
      if (await putBackUnreleased(held)) {
        this.log.info({ job: job.data.name }, job.data.held ? 'held: back to waiting for qm release' : 'before its begin time: back to waiting');
        return false;
      }
      if ((await this.gate.holds(held)) || !(await this.claims.claim(held))) return false;
      return await this.run(held, grant);
    } catch (err) {
      clearInterval(held.lockTimer);
      throw err;
    }
  }

  /** Starts a claimed job (false when it could not be); its pools are given back as soon as its processes have ended. */
  private async run(held: Held, grant: Grant): Promise<boolean> {
    const { nbProc, cpus } = grant;
    const { job, token } = held;
    const id = job.id!;
    const data = job.data;
    if (nbProc < data.nbProc) this.log.info({ job: data.name }, `nb_proc ${data.nbProc} limited to ${nbProc}: no live worker has more`);
    const startedAt = new Date();
    const info = runningEntry(job, token, grant, { worker: this.name, instance: this.instance, host: this.host }, startedAt);
    const folder = path.join(this.layout.running, data.name);
    let runAs: JobUser | undefined;
    try {
      runAs = await jobUser(data, folder);
    } catch (err) {
      // never run as root a job whose owner is unknown
      clearInterval(held.lockTimer);
      await this.lifecycle.lose(held, info, folder, `its owner could not be read: ${(err as Error).message}`);
      return false;
    }
    // recorded as running while its launcher starts it (a round trip less
    // before the script starts); its end is recorded after that, even if that failed
    const marked = this.lifecycle.start(info).then(
      // the heartbeat lists the job (and is written again if a wipe removed it)
      () => this.heartbeat.soon(),
      (err: Error) => this.log.warn({ job: data.name }, `could not record its start: ${err.message}`),
    );

    const active = startJob(
      { id, job: data, nbProc, cpus, gpus: grant.gpus, memoryMb: grant.memoryMb, hasGpus: this.budget.gpus.length > 0, runAs, worker: this.name, host: this.host, startedAt },
      this.layout,
      { launcher: this.launcher, tmpDirs: this.tmpDirs, killGrace: this.settings.server.killGrace },
    );
    this.active.set(id, { ...active, held, info });
    // the processors are free once the job's processes have ended: the next
    // job starts while this one is still being moved and recorded
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.releasePools(grant);
    };
    void active.process.exited.then(release);
    void active.process.started.then(() => this.log.info({ job: data.name }, startedLine(data, grant, runAs?.name)));
    const settled = Promise.all([active.ended, marked])
      .then(async ([{ end, cpu, logged, unwritableLog }]) => {
        if (unwritableLog) return void (await this.lifecycle.unwritableLog(held, info, unwritableLog));
        const abandoned = await this.store.isMarkedLost(info.id, this.instance);
        const record = await this.lifecycle.finish({ held, info, end, cpu, logged, abandoned });
        if (record) this.log.info({ job: data.name }, `finished: ${describeOutcome(record.outcome)} → ${record.folder}`);
      })
      .catch((err: Error) => this.log.error({ job: data.name }, `could not finish: ${err.message}`))
      .finally(() => {
        clearInterval(held.lockTimer);
        this.active.delete(id);
        release();
        this.settling.delete(settled);
        this.heartbeat.soon();
      });
    this.settling.add(settled);
    return true;
  }

  private releasePools(grant: Grant): void {
    this.budget.release(grant);
    this.wakeup.notify();
  }

  private onControl(message: string): void {
    const kill = killRequestIn(message);
    const active = kill && this.active.get(kill.id);
    if (!active) return;
    this.log.info({ job: active.run.job.name }, `kill requested by ${kill.by ?? 'someone'}`);
    active.stop({ kind: 'killed', by: kill.by ?? 'request' });
  }

  /**
   * Stops taking work. `wait`: let running jobs end; `kill`: stop them now
   * (recorded as killed by shutdown); `requeue`: stop them now and put their
   * folders back in QM_qJobs, to run again from the start.
   */
  async stop(mode: 'wait' | 'kill' | 'requeue'): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.wakeup.notify();
      const fate = { wait: 'waited for', kill: 'killed', requeue: 'stopped and put back in QM_qJobs' }[mode];
      this.log.info(`stopping: ${this.active.size} running job(s) will be ${fate}`);
    }
    const reason: StopReason = mode === 'requeue' ? { kind: 'requeue' } : { kind: 'killed', by: 'shutdown' };
    if (mode !== 'wait') for (const a of this.active.values()) a.stop(reason);
    await Promise.allSettled([...this.active.values()].map((a) => a.ended));
  }

  /** After stop(): all jobs have ended; their records written (if Redis answers in time); close connections. */
  async close(): Promise<void> {
    // with Redis away, fetching is stuck on it: nothing there to wait for
    await finishUnlessAway(this.redis, [this.bull.close(true).catch(() => undefined), this.loopDone], 0);
    if (!(await finishUnlessAway(this.redis, [...this.settling], RECORD_WAIT_MS))) {
      this.log.warn(`redis unreachable: ${this.settling.size} ended job(s) not recorded in it (their folders are in QM_dJobs)`);
    }
    await this.reaper.stop();
    this.heartbeat.stop();
    this.queueWatch.close();
    // with Redis away these would wait for it; the heartbeat lapses by itself
    if (this.store.connected) await this.store.removeHeartbeat(this.name).catch(() => undefined);
    await this.mailer?.close();
    this.launcher.close();
    this.tmpDirs.close();
    this.control.disconnect();
    await this.store.close();
    this.redis.disconnect();
  }
}
