/**
 * A worker's heartbeat in Redis (liveness.ts judges workers by it).
 * 1. Written every HEARTBEAT_MS, and soon after one of its jobs starts or
 *    ends (the ones asked for within BEAT_SOON_MS go as one): who the worker
 *    is, its budget, the jobs it runs.
 * 2. Its running entries go with it: written again when a wipe removed them;
 *    the ones declared lost meanwhile are handed to `onLost`.
 */
import type { JobStore } from '../core/jobstore.js';
import type { Logger } from '../core/log.js';
import type { RunningInfo } from '../core/status.js';
import { HEARTBEAT_MS, HEARTBEAT_TTL_S, type Heartbeat } from '../core/heartbeat.js';
import { pidSpace } from '../core/liveness.js';
import type { Budget } from './budget.js';

/**
 * How long a heartbeat asked for by a job's start or end waits for others to
 * join it. Under load every wait ends with a beat (two round trips), so a
 * short one costs CPU per job; the lost-worker check gives a job 15 s to be
 * listed (liveness.ts), and the pools it shows are for explaining waits.
 */
const BEAT_SOON_MS = 500;

export interface BeatSource {
  /** the heartbeat as of now */
  heartbeat(): Heartbeat;
  /** the running entries of the worker's jobs */
  running(): RunningInfo[];
  /** job `id` was declared lost while this worker could not reach Redis */
  onLost(id: string): void;
}

/** The heartbeat of the worker `who`, with its pools as they are now and the ids of its jobs. */
export function heartbeatOf(who: { name: string; instance: string; host: string; startedAt: number }, budget: Budget, jobs: string[]): Heartbeat {
  return {
    name: who.name,
    instance: who.instance,
    host: who.host,
    pid: process.pid,
    pidSpace,
    budget: budget.max,
    inUse: budget.inUse,
    gpus: [...budget.gpus],
    gpusInUse: budget.gpusInUse,
    memoryMb: budget.memoryMb,
    memoryInUseMb: budget.memoryInUseMb,
    jobs,
    startedAt: who.startedAt,
    beatAt: Date.now(),
  };
}

export class HeartbeatWriter {
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly log: Logger,
    private readonly source: BeatSource,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => undefined), HEARTBEAT_MS);
  }

  /** A heartbeat soon: the worker's jobs changed. */
  soon(): void {
    this.soonTimer ??= setTimeout(() => {
      this.soonTimer = undefined;
      void this.beat().catch(() => undefined);
    }, BEAT_SOON_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.soonTimer);
  }

  private async beat(): Promise<void> {
    const hb = this.source.heartbeat();
    await this.store.writeHeartbeat(hb, HEARTBEAT_TTL_S);
    const { rewritten, lost } = await this.store.reassertRunning(this.source.running());
    if (rewritten > 0) this.log.info(`${rewritten} running job(s) written again to Redis (it had lost them)`);
    for (const id of lost) this.source.onLost(id);
  }
}
