/**
 * `/metrics` (Prometheus text) and `/healthz`.
 * 1. Jobs by state, processors in use and budget per live worker, read at
 *    each scrape.
 * 2. A histogram of job durations fed from the done records: each scrape
 *    observes the records that ended since the previous one.
 * 3. Health: Redis answers, and at least one worker's heartbeat is alive.
 */
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { keys } from '../core/redis.js';
import type { ReadModel } from './read-model.js';

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
  private readonly alive = new Gauge({ name: 'qm_workers_alive', help: 'Workers with a live heartbeat', registers: this.registers });
  private readonly duration = new Histogram({
    name: 'qm_job_duration_seconds', help: 'Elapsed time of finished jobs (from their done records)',
    labelNames: ['outcome'], buckets: DURATION_BUCKETS, registers: this.registers,
  });
  /** end time (ms) of the newest record observed, and the ids observed at that time */
  private seenUntil = -Infinity;
  private seenAtEdge = new Set<string>();

  constructor(private readonly model: ReadModel) {
    collectDefaultMetrics({ register: this.registry, prefix: 'qm_monitor_' });
  }

  private async collect(): Promise<void> {
    const { store } = this.model;
    const [counts, running, done, workers] = await Promise.all([
      store.queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed'),
      store.redis.hlen(keys.running),
      store.redis.zcard(keys.done),
      this.model.workers(),
    ]);
    // an active BullMQ job not in qm:running is held by a worker waiting for room: still queued
    const held = Math.max(0, (counts.active ?? 0) - running);
    this.jobs.set({ state: 'queued' }, held + (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0));
    this.jobs.set({ state: 'running' }, running);
    this.jobs.set({ state: 'done' }, done);
    this.inUse.reset();
    this.budget.reset();
    for (const w of workers) {
      this.inUse.set({ worker: w.name, host: w.host }, w.inUse);
      this.budget.set({ worker: w.name, host: w.host }, w.budget);
    }
    this.alive.set(workers.length);
    await this.observeNewRecords();
  }

  private async observeNewRecords(): Promise<void> {
    const redis = this.model.store.redis;
    const min = Number.isFinite(this.seenUntil) ? String(this.seenUntil) : '-inf';
    const flat = await redis.zrangebyscore(keys.done, min, '+inf', 'WITHSCORES');
    const fresh: string[] = [];
    let until = this.seenUntil;
    const edge = new Set<string>();
    for (let i = 0; i < flat.length; i += 2) {
      const id = flat[i]!;
      const score = Number(flat[i + 1]);
      if (score === this.seenUntil && this.seenAtEdge.has(id)) continue;
      fresh.push(id);
      if (score > until) {
        until = score;
        edge.clear();
      }
      if (score === until) edge.add(id);
    }
    if (until === this.seenUntil) for (const id of this.seenAtEdge) edge.add(id);
    for (let i = 0; i < fresh.length; i += 1000) {
      for (const r of await this.model.store.records(fresh.slice(i, i + 1000))) {
        if (r.elapsed !== undefined) this.duration.observe({ outcome: r.outcome.kind }, r.elapsed);
      }
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
    await Promise.race([model.store.redis.ping(), timeout]);
    const workers = (await Promise.race([model.workers(), timeout])).map((w) => ({ name: w.name, host: w.host, inUse: w.inUse, budget: w.budget }));
    if (workers.length === 0) return { ok: false, redis: 'ok', workers, problem: 'no live worker (no heartbeat in Redis)' };
    return { ok: true, redis: 'ok', workers };
  } catch (err) {
    return { ok: false, redis: 'unreachable', workers: [], problem: `redis: ${(err as Error).message}` };
  }
}
