/**
 * Issue 3 points 3, 5, 6, end to end: `qm ingest` and three `qm worker`
 * processes (budgets 1, 2, 4) on one Redis and one QM folder.
 */
import { describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DoneRecord } from '../../src/core/status.js';
import { cfgDescriptor, doneEntries, dropJob, makeQmDir, startQm, waitDone, type QmDir, rolesPerTest } from '../helpers/qm.js';
import { TestRedis } from '../helpers/redis.js';
import { peakUse, readTimeline, timedScript, type TimelineEvent } from '../helpers/timeline.js';
import { waitFor } from '../helpers/wait.js';
import { recordMeasure } from './budget-measure.js';

const cluster = rolesPerTest();

/** One Redis, one QM folder, `qm ingest`, and a `qm worker` per [name, budget]. */
async function startCluster(workers: Array<[string, number]>, server: Record<string, string | number> = {}): Promise<QmDir> {
  cluster.redis = await TestRedis.start();
  cluster.qm = makeQmDir({ QMServer: { redis_url: cluster.redis.url, ...server } });
  const ingest = startQm(['ingest', '-c', cluster.qm.cfg]);
  cluster.procs.push(ingest);
  for (const [name, budget] of workers) {
    cluster.procs.push(startQm(['worker', '-c', cluster.qm.cfg], { QM_WORKER_NAME: name, QM_MAX_NB_PROCESSORS: String(budget) }));
  }
  await ingest.waitForOutput(/watching/);
  for (const [i, [name]] of workers.entries()) await cluster.procs[i + 1]!.waitForOutput(new RegExp(`worker ${name} ready`));
  return cluster.qm;
}

/** Every done record, by job name (what `qm status` shows). */
async function doneRecords(): Promise<Map<string, DoneRecord[]>> {
  const client = cluster.redis!.client();
  const ids = await client.zrange('qm:done', 0, -1);
  const values = ids.length ? await client.mget(...ids.map((id) => `qm:rec:${id}`)) : [];
  client.disconnect();
  const byName = new Map<string, DoneRecord[]>();
  for (const v of values) {
    const rec = JSON.parse(v!) as DoneRecord;
    byName.set(rec.name, [...(byName.get(rec.name) ?? []), rec]);
  }
  return byName;
}

/** A small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** From the end of a job to the next start on the same worker (the worker's reaction time), in ms. */
function restartGaps(own: TimelineEvent[]): { median: number; max: number } {
  const gaps: number[] = [];
  own.forEach((e, i) => {
    const next = own.slice(i + 1).find((n) => n.kind === 'start');
    if (e.kind === 'end' && next) gaps.push(Number((next.t - e.t) / 1_000_000n));
  });
  gaps.sort((a, b) => a - b);
  return { median: gaps[Math.floor(gaps.length / 2)] ?? 0, max: gaps.at(-1) ?? 0 };
}

const BUDGETS: Array<[string, number]> = [['w1', 1], ['w2', 2], ['w4', 4]];

describe('three workers on one queue', () => {
  it('a job a busy worker cannot start yet is started by an idle worker', async () => {
    const q = await startCluster(BUDGETS);
    const gate = path.join(q.base, 'gate');
    // only w4 can run 3 processors: it keeps 1 free, too few for the next job
    await dropJob(q, 'wide', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 3, script: `while [ ! -e ${gate} ]; do sleep 0.05; done` }) });
    await waitFor(() => fs.access(path.join(q.running, 'wide')).then(() => true), { what: 'wide running' });
    await dropJob(q, 'pair', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 2, script: 'true' }) });
    await waitDone(q, 'pair');
    expect(doneEntries(q, 'wide')).toEqual([]); // still running: pair did not wait for w4
    await fs.writeFile(gate, '');
    await waitDone(q, 'wide');
    const records = await doneRecords();
    const pair = records.get('pair')![0]!;
    expect(pair.worker).toBe('w2');
    expect(pair.host).toBeTruthy();
    expect(records.get('wide')![0]!.worker).toBe('w4');
    recordMeasure('idle worker', { pairQueuedToStartedMs: pair.startedAt! - pair.enqueuedAt! });
  });

  it('a few hundred mixed jobs: each runs once, on a worker it fits, never above its budget', async () => {
    const q = await startCluster(BUDGETS);
    const tl = path.join(q.base, 'timeline');
    const rand = random(20261126);
    const sizes = [1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 4, 4, 6];
    const jobs = Array.from({ length: 300 }, (_, i) => ({
      name: `r${String(i).padStart(3, '0')}`,
      nbProc: sizes[Math.floor(rand() * sizes.length)]!,
      sleep: (0.01 + rand() * 0.08).toFixed(2),
      priority: Math.floor(rand() * 3) - 1,
    }));
    const started = Date.now();
    await Promise.all(
      jobs.map((j) =>
        dropJob(q, j.name, {
          'proc_config.cfg': cfgDescriptor({ nb_proc: j.nbProc, priority: j.priority, script: timedScript(tl, Math.min(j.nbProc, 4), `sleep ${j.sleep}`) }),
        }),
      ),
    );
    await waitFor(() => doneEntries(q).length >= jobs.length, { what: 'all jobs done', timeout: 80_000, interval: 200 });
    const elapsed = Date.now() - started;

    const records = await doneRecords();
    const events = readTimeline(tl);
    const budgetOf = new Map(BUDGETS);
    const workerOf = new Map<string, string>();
    for (const j of jobs) {
      const recs = records.get(j.name) ?? [];
      expect(recs, j.name).toHaveLength(1);
      const rec = recs[0]!;
      expect(rec.outcome.kind, j.name).toBe('success');
      // clamped only when no worker has that many processors
      expect(rec.nbProc, j.name).toBe(Math.min(j.nbProc, 4));
      expect(rec.nbProc, j.name).toBeLessThanOrEqual(budgetOf.get(rec.worker!)!);
      expect(events.filter((e) => e.name === j.name && e.kind === 'start'), j.name).toHaveLength(1);
      workerOf.set(j.name, rec.worker!);
    }
    const clamped = jobs.find((j) => j.nbProc > 4)!;
    const clampedLog = readFileSync(path.join(q.root, records.get(clamped.name)![0]!.folder, 'process.log'), 'utf8');
    expect(clampedLog.split('\n')[0]).toBe('Nb of processors limited to 4');

    const peaks: Record<string, { processors: number; jobs: number; ran: number; restartGapMs: { median: number; max: number } }> = {};
    for (const [worker, budget] of BUDGETS) {
      const own = events.filter((e: TimelineEvent) => workerOf.get(e.name) === worker);
      const peak = peakUse(own);
      expect(peak.processors, worker).toBeLessThanOrEqual(budget);
      peaks[worker] = { ...peak, ran: own.length / 2, restartGapMs: restartGaps(own) };
    }
    recordMeasure('randomized run', { jobs: jobs.length, elapsedMs: elapsed, peaks, budgets: Object.fromEntries(BUDGETS) });
  });
});

describe('launch_type = blocking with two workers', () => {
  it('each worker runs one job at a time, of any size up to its budget', async () => {
    const q = await startCluster([['b1', 2], ['b2', 2]], { launch_type: 'blocking' });
    const tl = path.join(q.base, 'timeline');
    const gate = path.join(q.base, 'gate');
    // one worker is kept busy: every other job must run on the other one, one at a time
    await dropJob(q, 'hold', { 'proc_config.cfg': cfgDescriptor({ script: timedScript(tl, 1, `while [ ! -e ${gate} ]; do sleep 0.05; done`) }) });
    await waitFor(() => fs.access(path.join(q.running, 'hold')).then(() => true), { what: 'hold running' });
    const names = Array.from({ length: 6 }, (_, i) => `b${i}`);
    for (const [i, name] of names.entries()) {
      const nbProc = i === 2 ? 2 : 1;
      await dropJob(q, name, { 'proc_config.cfg': cfgDescriptor({ nb_proc: nbProc, script: timedScript(tl, nbProc, 'sleep 0.1') }) });
    }
    await waitFor(() => names.every((n) => doneEntries(q, n).length === 1), { what: 'the jobs done', timeout: 30_000 });
    await fs.writeFile(gate, '');
    await waitDone(q, 'hold');

    const records = await doneRecords();
    const holder = records.get('hold')![0]!.worker!;
    const other = holder === 'b1' ? 'b2' : 'b1';
    expect(names.map((n) => records.get(n)![0]!.worker)).toEqual(names.map(() => other));
    expect(records.get('b2')![0]!.nbProc).toBe(2);
    const events = readTimeline(tl);
    expect(peakUse(events.filter((e) => e.name !== 'hold')).jobs).toBe(1);
    expect(peakUse(events).jobs).toBe(2);
  });
});
