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
import { exists, isIgnoredName } from './folders.js';
import type { Logger } from './log.js';
import type { Settings } from './settings-types.js';
import type { RunningInfo } from './status.js';
import { HEARTBEAT_MS } from './heartbeat.js';
import { OwnerWatch } from './liveness.js';
import { killLeftovers, runIdOf } from './leftovers.js';
import type { Lifecycle } from './lifecycle.js';
import { logPathOf, readEdges, startedAtIn } from './process-log.js';

const REAP_MS = HEARTBEAT_MS;
const UNOWNED_MS = 20_000;

export interface ReaperContext {
  lifecycle: Lifecycle;
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
    this.watch = new OwnerWatch(ctx.lifecycle.store);
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
    if (this.pass && this.ctx.lifecycle.store.connected) await this.pass;
  }

  private async run(): Promise<void> {
    const { log } = this.ctx;
    const { store } = this.ctx.lifecycle;
    if (!store.connected) return;
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
    const { lifecycle, log } = this.ctx;
    const { store, layout } = lifecycle;
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
        await lifecycle.forgetVanished(info, why);
        log.info({ job: info.name }, `${why} after its folder left QM_Jobs: running record dropped`);
        return;
      }
      const reason = `worker lost: ${why} while running it (started ${new Date(info.startedAt).toISOString()})`;
      const requeues = (await store.job(info.id).catch(() => undefined))?.data.requeues ?? 0;
      if (this.ctx.settings.server.onWorkerLoss === 'requeue' && requeues === 0 && (await lifecycle.putBack(info, reason))) return;
      await lifecycle.lose(undefined, info, folder, reason);
    } finally {
      await store.unlockLostJob(info.id).catch(() => undefined);
    }
  }

  /**
   * A folder claimed by a worker that stopped before starting it (no QM
   * header in its process.log, which the start's check of it may have made
   * empty): back to QM_qJobs, where ingest queues it again.
   */
  private async backUnstarted(folder: string, name: string): Promise<boolean> {
    try {
      await fs.rename(folder, path.join(this.ctx.lifecycle.layout.queued, name));
    } catch {
      return false; // a queued job of that name is in the way
    }
    this.ctx.log.warn({ job: name }, 'claimed by a worker that stopped before starting it: back in QM_qJobs');
    return true;
  }

  /** Folders in QM_Jobs that no running entry names, long enough while Redis is steady. */
  private async unowned(infos: RunningInfo[]): Promise<void> {
    const { lifecycle } = this.ctx;
    const { store, layout } = lifecycle;
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
        if (!(await hasStarted(folder)) && (await this.backUnstarted(folder, name))) continue;
        await lifecycle.loseUnowned(name, 'worker lost: no worker runs it any more (its running record was lost from Redis)');
      } finally {
        await store.unlockLostJob(lock).catch(() => undefined);
      }
    }
  }
}

/** Did QM start the job of this folder (its process.log has QM's header)? */
async function hasStarted(folder: string): Promise<boolean> {
  return startedAtIn((await readEdges(logPathOf(folder))).head) !== undefined;
}
