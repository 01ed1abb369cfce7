/**
 * `/metrics` (Prometheus text) and `/healthz`.
 * 1. Jobs by state; processors, GPUs and memory (bytes) in use and in the
 *    pools of each live worker, read at each scrape.
 * 2. A histogram of job durations fed from the done records: each scrape
 *    observes the records that ended since the previous one; a counter of
 *    finished jobs by outcome, which only grows (Redis counts each end).
 * 3. Health: Redis answers, and at least one worker's heartbeat is alive.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReadModel } from '../core/read-model.js';

const DURATION_BUCKETS = [1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400];

export class Metrics {
  readonly registry = new Registry();
  private readonly registers = [this.registry];
  private readonly jobs = new Gauge({ name: 'qm_jobs', help: 'Jobs by state', labelNames: ['state'], registers: this.registers });
  private readonly inUse = new Gauge({
    name: 'qm_worker_processors_in_use', help: 'Processors used by running jobs, per live worker',
    labelNames: ['worker', 'host'], registers: this.registers,
  });
  private readonly budget = new Gauge({
    name: 'qm_worker_processors_budget', help: 'Processor budget (MaxNbProcessors), per live worker',
    labelNames: ['worker', 'host'], registers: this.registers,
  });
  private readonly gpusInUse = new Gauge({
    name: 'qm_worker_gpus_in_use', help: 'GPUs held by running jobs, per live worker', labelNames: ['worker', 'host'], registers: this.registers,
  });
  private readonly gpusBudget = new Gauge({
    name: 'qm_worker_gpus_budget', help: 'GPUs a worker hands out (gpus), per live worker', labelNames: ['worker', 'host'], registers: this.registers,
  });
  private readonly memoryInUse = new Gauge({
    name: 'qm_worker_memory_in_use_bytes', help: 'Memory reserved by running jobs, per live worker', labelNames: ['worker', 'host'], registers: this.registers,
  });
  private readonly memoryBudget = new Gauge({
    name: 'qm_worker_memory_budget_bytes', help: 'Memory pool (memory), per live worker', labelNames: ['worker', 'host'], registers: this.registers,
  });
  private readonly alive = new Gauge({ name: 'qm_workers_alive', help: 'Workers with a live heartbeat', registers: this.registers });
  private readonly duration = new Histogram({
    name: 'qm_job_duration_seconds', help: 'Elapsed time of finished jobs (from their done records)',
    labelNames: ['outcome'], buckets: DURATION_BUCKETS, registers: this.registers,
  });
  private readonly finished = new Counter({
    name: 'qm_jobs_finished_total', help: 'Jobs that ended, by outcome (counted in Redis as each ends)',
    labelNames: ['outcome'], registers: this.registers,
  });
  /** Redis's count per outcome at the last scrape */
  private readonly finishedSeen = new Map<string, number>();
  /** end time (ms) of the newest record observed, and the ids observed at that time */
  private seenUntil = -Infinity;
  private seenAtEdge = new Set<string>();

  constructor(private readonly model: ReadModel) {
    // the event-loop lag histogram samples every 10 ms by default: 100 wake-ups a
    // second, most of an idle monitor's CPU; every 100 ms is fine for a lag metric
    collectDefaultMetrics({ register: this.registry, prefix: 'qm_monitor_', eventLoopMonitoringPrecision: 100 });
  }

  private async collect(): Promise<void> {
    const [counts, workers, finished] = await Promise.all([this.model.counts(), this.model.workers(), this.model.store.finishedCounts()]);
    this.jobs.set({ state: 'queued' }, counts.queued);
    this.jobs.set({ state: 'running' }, counts.running);
    this.jobs.set({ state: 'done' }, counts.done);
    const perWorker = [this.inUse, this.budget, this.gpusInUse, this.gpusBudget, this.memoryInUse, this.memoryBudget];
    for (const gauge of perWorker) gauge.reset();
    const MB = 1024 * 1024;
    for (const w of workers) {
      const labels = { worker: w.name, host: w.host };
      this.inUse.set(labels, w.inUse);
      this.budget.set(labels, w.budget);
      this.gpusInUse.set(labels, w.gpusInUse?.length ?? 0);
      this.gpusBudget.set(labels, w.gpus?.length ?? 0);
      if (w.memoryMb !== undefined) {
        this.memoryInUse.set(labels, (w.memoryInUseMb ?? 0) * MB);
        this.memoryBudget.set(labels, w.memoryMb * MB);
      }
    }
    this.alive.set(workers.length);
    this.countFinished(finished);
    await this.observeNewRecords();
  }

  /** The counter follows Redis's: it grows by what Redis counted since the last scrape (a new Redis starts it again). */
  private countFinished(finished: Map<string, number>): void {
    for (const [outcome, total] of finished) {
      const seen = this.finishedSeen.get(outcome) ?? 0;
      if (total < seen) this.finished.reset();
      const since = total < seen ? total : total - seen;
      if (since > 0) this.finished.inc({ outcome }, since);
      this.finishedSeen.set(outcome, total);
    }
  }

  private async observeNewRecords(): Promise<void> {
    const store = this.model.store;
    const ends = await store.doneSince(Number.isFinite(this.seenUntil) ? this.seenUntil : '-inf');
    const fresh: string[] = [];
    let until = this.seenUntil;
    const edge = new Set<string>();
    for (const { id, endedAt } of ends) {
      if (endedAt === this.seenUntil && this.seenAtEdge.has(id)) continue;
      fresh.push(id);
      if (endedAt > until) {
        until = endedAt;
        edge.clear();
      }
      if (endedAt === until) edge.add(id);
    }
    if (until === this.seenUntil) for (const id of this.seenAtEdge) edge.add(id);
    for (const r of await store.records(fresh)) {
      if (r.elapsed !== undefined) this.duration.observe({ outcome: r.outcome.kind }, r.elapsed);
    }
    this.seenUntil = until;
    this.seenAtEdge = edge;
  }

  async text(): Promise<{ type: string; body: string }> {
    await this.collect();
    return { type: this.registry.contentType, body: await this.registry.metrics() };
  }
}

export interface Health {
  ok: boolean;
  redis: 'ok' | 'unreachable';
  workers: { name: string; host: string; inUse: number; budget: number }[];
  problem?: string;
}

/** Redis answers PING within `timeoutMs`, and some worker is alive. */
export async function health(model: ReadModel, timeoutMs = 2000): Promise<Health> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer')), timeoutMs).unref());
  try {
    await Promise.race([model.store.ping(), timeout]);
    const workers = (await Promise.race([model.workers(), timeout])).map((w) => ({ name: w.name, host: w.host, inUse: w.inUse, budget: w.budget }));
    if (workers.length === 0) return { ok: false, redis: 'ok', workers, problem: 'no live worker (no heartbeat in Redis)' };
    return { ok: true, redis: 'ok', workers };
  } catch (err) {
    return { ok: false, redis: 'unreachable', workers: [], problem: `redis: ${(err as Error).message}` };
  }
}
