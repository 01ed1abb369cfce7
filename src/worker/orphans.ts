/**
 * Jobs whose worker vanished (SPEC §4), found and moved by any live worker
 * or ingest; a live worker's jobs are never touched.
 * 1. Every REAP_MS, reads the running table and judges each job's worker
 *    from its heartbeat (liveness.ts): a dead worker is seen within seconds on
 *    its own machine, within HEARTBEAT_TTL_S + a few seconds elsewhere.
 * 2. A lost worker's job: what it left running on this machine is killed,
 *    `Job lost at:` is appended to its process.log and its folder goes per
 *    `on_worker_loss`: to QM_lost+found with `worker lost: ...` (default), or
 *    back to QM_qJobs once. A lock per job lets one process do it; a mark
 *    tells the worker, should it come back, to leave that job alone.
 * 3. A folder in QM_Jobs that no running entry names for UNOWNED_MS while
 *    Redis is steady (its record went with a wiped Redis, its worker died)
 *    goes to QM_lost+found; back to QM_qJobs if it never started.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { newJobId, type JobStore } from '../core/jobstore.js';
import { exists, isIgnoredName, moveToLostFound, type Layout } from '../core/folders.js';
import type { Logger } from '../core/log.js';
import { finishUnlessAway } from '../core/redis.js';
import type { Settings } from '../core/settings-types.js';
import type { DoneRecord, RunningInfo } from '../core/status.js';
import { HEARTBEAT_MS, OwnerWatch } from './liveness.js';
import { killLeftovers, runIdOf } from './sweep.js';
import { requeueCount, requeueInRedis } from './requeue.js';

const REAP_MS = HEARTBEAT_MS;
const UNOWNED_MS = 20_000;

export interface ReaperContext {
  store: JobStore;
  layout: Layout;
  settings: Settings;
  log: Logger;
  /** who holds the lock while moving a job (for debugging) */
  holder: string;
}

export class OrphanReaper {
  private readonly watch: OwnerWatch;
  private readonly unownedSince = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;

  constructor(private readonly ctx: ReaperContext) {
    this.watch = new OwnerWatch(ctx.store.redis);
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), REAP_MS);
    void this.check();
  }

  /** One pass now (a pass already under way is joined, not repeated). */
  check(): Promise<void> {
    this.pass ??= this.run()
      .catch((err: Error) => this.ctx.log.debug(`lost-worker check failed: ${err.message}`))
      .finally(() => (this.pass = undefined));
    return this.pass;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // a pass stuck on an unreachable Redis is dropped: the next process does it again
    if (this.pass) await finishUnlessAway(this.ctx.store.redis, [this.pass], 0);
  }

  private async run(): Promise<void> {
    const { store, log } = this.ctx;
    if (store.redis.status !== 'ready') return;
    const infos = await store.running();
    const verdicts = await this.watch.judge(infos);
    for (const info of infos) {
      const verdict = verdicts.get(info.id);
      if (verdict?.state !== 'gone') continue;
      await this.settle(info, verdict.why).catch((err: Error) =>
        log.error({ job: info.name }, `could not move the job of a lost worker: ${err.message}`),
      );
    }
    await this.unowned(infos);
  }

  /** Moves the job of a lost worker per on_worker_loss (one process does it). */
  private async settle(info: RunningInfo, why: string): Promise<void> {
    const { store, layout, log } = this.ctx;
    if (!(await store.lockLostJob(info.id, this.ctx.holder))) return;
    try {
      const current = await store.runningInfo(info.id);
      if (!current || current.instance !== info.instance) return; // settled meanwhile
      // should that worker come back, it leaves the job alone from now on
      await store.markLost(info.id, info.instance);
      if ((await store.running()).some((r) => r.name === info.name && r.id !== info.id)) {
        // a newer run of that name holds the folder: this entry is stale
        await store.forgetRunning(info.id);
        return;
      }
      for (const left of killLeftovers([runIdOf(info.worker, info.startedAt, info.id)])) {
        log.warn({ job: info.name }, `killed process ${left.pid} left running by its lost worker (${left.command})`);
      }
      const folder = path.join(layout.running, info.name);
      if (!(await exists(folder))) {
        // the worker died after moving the folder on, before recording it
        await store.forgetRunning(info.id);
        await this.completeInBullmq(info, { lost: why });
        log.info({ job: info.name }, `${why} after its folder left QM_Jobs: running record dropped`);
        return;
      }
      const reason = `worker lost: ${why} while running it (started ${new Date(info.startedAt).toISOString()})`;
      await fs
        .appendFile(path.join(folder, 'process.log'), `Job lost at: ${new Date().toISOString()}: ${reason}\n`)
        .catch(() => undefined);
      if (this.ctx.settings.server.onWorkerLoss === 'requeue' && (await requeueCount(store, info.id)) === 0) {
        if (await this.requeue(info, folder, reason)) return;
      }
      await this.lose(info, folder, reason);
    } finally {
      await store.unlockLostJob(info.id).catch(() => undefined);
    }
  }

  /** Back to QM_qJobs; false when a queued job of that name is in the way. */
  private async requeue(info: RunningInfo, folder: string, reason: string): Promise<boolean> {
    try {
      await fs.rename(folder, path.join(this.ctx.layout.queued, info.name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
      throw err;
    }
    await requeueInRedis(this.ctx.store, info, true);
    this.ctx.log.warn({ job: info.name }, `${reason}; requeued (once)`);
    return true;
  }

  private async lose(info: RunningInfo, folder: string, reason: string): Promise<void> {
    const { store, layout, log } = this.ctx;
    const target = await moveToLostFound(layout, folder, info.name, reason);
    const job = await store.job(info.id).catch(() => undefined);
    const record: DoneRecord = {
      id: info.id,
      name: info.name,
      info: info.info,
      email: info.email,
      nbProc: info.nbProc,
      priority: job?.data.priority ?? 0,
      worker: info.worker,
      host: info.host,
      enqueuedAt: info.enqueuedAt,
      startedAt: info.startedAt,
      endedAt: Date.now(),
      folder: path.relative(layout.root, target),
      outcome: { kind: 'lost', reason },
    };
    await store.recordDone(record);
    await this.completeInBullmq(info, { lost: reason });
    log.warn({ job: info.name }, `${reason}; moved to ${record.folder}`);
  }

  /** With the lost worker's token; if its lock lapsed, the job comes back and its claim finds it done. */
  private async completeInBullmq(info: RunningInfo, result: object): Promise<void> {
    if (!info.token) return;
    const job = await this.ctx.store.job(info.id).catch(() => undefined);
    await job?.moveToCompleted(result, info.token, false).catch(() => undefined);
  }

  /**
   * A folder claimed by a worker that stopped before starting it (no
   * process.log yet): back to QM_qJobs, where ingest queues it again.
   */
  private async backUnstarted(folder: string, name: string): Promise<boolean> {
    try {
      await fs.rename(folder, path.join(this.ctx.layout.queued, name));
    } catch {
      return false; // a queued job of that name is in the way
    }
    this.ctx.log.warn({ job: name }, 'claimed by a worker that stopped before starting it: back in QM_qJobs');
    return true;
  }

  /** Folders in QM_Jobs that no running entry names, long enough while Redis is steady. */
  private async unowned(infos: RunningInfo[]): Promise<void> {
    const { store, layout, log } = this.ctx;
    const now = Date.now();
    if (!this.watch.steady(now)) {
      this.unownedSince.clear();
      return;
    }
    const owned = new Set(infos.map((i) => i.name));
    const names = (await fs.readdir(layout.running)).filter((n) => !isIgnoredName(n) && !owned.has(n));
    for (const name of this.unownedSince.keys()) if (!names.includes(name)) this.unownedSince.delete(name);
    for (const name of names) {
      const since = this.unownedSince.get(name) ?? now;
      this.unownedSince.set(name, since);
      if (now - since < UNOWNED_MS) continue;
      const lock = `folder:${name}`;
      if (!(await store.lockLostJob(lock, this.ctx.holder))) continue;
      try {
        const folder = path.join(layout.running, name);
        if ((await store.running()).some((r) => r.name === name) || !(await exists(folder))) continue;
        this.unownedSince.delete(name);
        if (!(await exists(path.join(folder, 'process.log'))) && (await this.backUnstarted(folder, name))) continue;
        const reason = `worker lost: no worker runs it any more (its running record was lost from Redis)`;
        const target = await moveToLostFound(layout, folder, name, reason);
        await store.recordDone({
          id: `lost-${newJobId()}`,
          name,
          nbProc: 1,
          priority: 0,
          endedAt: Date.now(),
          folder: path.relative(layout.root, target),
          outcome: { kind: 'lost', reason },
        });
        log.warn({ job: name }, `${reason}; moved to ${path.relative(layout.root, target)}`);
      } finally {
        await store.unlockLostJob(lock).catch(() => undefined);
      }
    }
  }
}
