/**
 * Issue 14 point 3: the pick across three pools (processors, GPUs, memory),
 * against a real Redis and BullMQ queue; what no live worker could hold is
 * passed over with its reason; the pick's cost with three pools against one.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keys } from '../../src/core/redis.js';
import { bullPriority } from '../../src/core/bullmq-internals.js';
import { JobStore, type Pick, type PickRequest } from '../../src/core/jobstore.js';
import { ReadModel } from '../../src/core/read-model.js';
import { layoutOf } from '../../src/core/folders.js';
import { testQueue } from '../helpers/redis.js';
import { recordMeasure } from '../e2e/budget-measure.js';

const t = testQueue();
let store: JobStore;

beforeAll(() => {
  store = new JobStore(t.redis, t.queue, 100);
});

beforeEach(async () => {
  await t.redis.flushall();
});

async function add(name: string, asked: { nbProc?: number; nbGpu?: number; memoryMb?: number } = {}): Promise<void> {
  const job = { name, nbProc: 1, after: [], keys: {}, ...asked };
  await t.queue.add(name, job, { jobId: name, priority: bullPriority(0) });
}

interface Pools { budget: number; gpus: number; memoryMb: number }

/** A live worker as the others see it: its heartbeat carries its pools. */
async function alive(worker: string, p: Pools): Promise<void> {
  const hb = { name: worker, instance: worker, budget: p.budget, inUse: 0, gpus: Array.from({ length: p.gpus }, (_, i) => String(i)), gpusInUse: [], memoryMb: p.memoryMb, memoryInUseMb: 0, jobs: [] };
  await t.redis.multi().set(keys.worker(worker), JSON.stringify(hb), 'EX', 10).sadd(keys.workers, worker).exec();
}

function pick(worker: string, p: Pools, free: Partial<PickRequest> = {}): Promise<Pick> {
  return store.pick({
    worker, token: `${worker}-token`, lockMs: 20_000, free: p.budget, budget: p.budget,
    freeGpus: p.gpus, gpus: p.gpus, freeMemoryMb: p.memoryMb, memoryMb: p.memoryMb, ...free,
  });
}

const GPU4: Pools = { budget: 8, gpus: 4, memoryMb: 1024 };

describe('the pick across three pools', () => {
  it('takes a job only when its GPUs and memory fit too, and starts nothing behind one that will fit here later', async () => {
    await add('gpu3', { nbGpu: 3 });
    await add('small', { nbGpu: 1 });
    expect(await pick('w', GPU4, { freeGpus: 2 })).toMatchObject({ kind: 'waiting', id: 'gpu3' });
    expect(await t.queue.getJobState('small')).toBe('prioritized');
    expect(await pick('w', GPU4, { freeGpus: 4 })).toMatchObject({ kind: 'taken', id: 'gpu3', nbProc: 1 });
    await add('mem', { memoryMb: 600 });
    await add('after', {});
    expect(await pick('w', GPU4, { freeGpus: 0 })).toMatchObject({ kind: 'waiting', id: 'small' });
    expect(await pick('w', GPU4, { freeGpus: 1, freeMemoryMb: 500 })).toMatchObject({ kind: 'taken', id: 'small' });
    expect(await pick('w', GPU4, { freeGpus: 0, freeMemoryMb: 500 })).toMatchObject({ kind: 'waiting', id: 'mem' });
    expect(await t.queue.getJobState('after')).toBe('prioritized');
  });

  it('--mem=0 (all of a worker\'s memory) waits for an idle pool', async () => {
    await add('all', { memoryMb: 0 });
    expect(await pick('w', GPU4, { freeMemoryMb: 1000 })).toMatchObject({ kind: 'waiting', id: 'all' });
    expect(await pick('w', GPU4)).toMatchObject({ kind: 'taken', id: 'all' });
  });

  it('leaves a GPU job to the worker that has GPUs, and clamps processors to the largest worker that could hold it', async () => {
    const cpuOnly: Pools = { budget: 16, gpus: 0, memoryMb: 4096 };
    const gpuBox: Pools = { budget: 4, gpus: 2, memoryMb: 4096 };
    await alive('cpu', cpuOnly);
    await alive('gpu', gpuBox);
    await add('train', { nbProc: 8, nbGpu: 2 });
    await add('prep', { nbProc: 8 });
    expect(await pick('cpu', cpuOnly)).toMatchObject({ kind: 'taken', id: 'prep', nbProc: 8 });
    expect(await pick('gpu', gpuBox)).toMatchObject({ kind: 'taken', id: 'train', nbProc: 4 });
  });

  it('passes over a job no live worker could ever hold, and says why', async () => {
    await alive('w', { budget: 2, gpus: 1, memoryMb: 1024 });
    await add('greedy', { nbGpu: 2 });
    await add('fat', { memoryMb: 2048 });
    await add('both', { nbGpu: 1, memoryMb: 1024 });
    await add('fine', {});
    expect(await pick('w', { budget: 2, gpus: 1, memoryMb: 1024 })).toMatchObject({ kind: 'taken', id: 'both' });
    expect(await pick('w', { budget: 2, gpus: 1, memoryMb: 1024 }, { free: 1, freeGpus: 0, freeMemoryMb: 0 })).toMatchObject({ kind: 'taken', id: 'fine' });
    const model = new ReadModel(store, layoutOf('/nonexistent-qm'));
    const reasons = Object.fromEntries((await model.queued(100)).jobs.map((j) => [j.name, j.reason]));
    expect(reasons).toMatchObject({
      greedy: 'Resources: needs 2 GPUs; the largest worker has 1',
      fat: 'Resources: needs 2 GB of memory; the largest worker has 1 GB',
    });
    await alive('other', { budget: 2, gpus: 0, memoryMb: 4096 });
    await add('split', { nbGpu: 1, memoryMb: 3000 });
    const later = Object.fromEntries((await model.queued(100)).jobs.map((j) => [j.name, j.reason]));
    expect(later.split).toBe('Resources: needs 1 GPU and 3000 MB of memory; no worker has both');
  });

  it('the cost of a pick with three pools against one (measured, not asserted)', async () => {
    const workers = 8;
    const fleet = async () => {
      for (let w = 0; w < workers; w++) await alive(`w${w}`, { budget: w === 0 ? 4 : 8, gpus: w % 2 ? 4 : 0, memoryMb: 8192 });
    };
    // w0 (4 processors, no GPU) passes over 200 jobs it cannot hold, then takes nothing: the whole scan each time
    const scenarios = {
      oneProcessorPool: { job: { nbProc: 8 }, req: { free: 4, budget: 4 } },
      threePools: { job: { nbProc: 2, nbGpu: 1, memoryMb: 1000 }, req: { free: 4, budget: 4, freeGpus: 0, gpus: 0, freeMemoryMb: 8192, memoryMb: 8192 } },
    };
    const samples: Record<string, number[]> = { oneProcessorPool: [], threePools: [] };
    for (let round = 0; round < 6; round++) {
      for (const [name, s] of Object.entries(scenarios)) {
        await t.redis.flushall();
        await fleet();
        for (let i = 0; i < 200; i++) await add(`j${i}`, s.job);
        const picks = 50;
        const start = process.hrtime.bigint();
        for (let i = 0; i < picks; i++) await store.pick({ worker: 'w0', token: 't', lockMs: 1000, ...s.req });
        if (round > 0) samples[name]!.push(Number(process.hrtime.bigint() - start) / 1e3 / picks);
      }
    }
    const median = (v: number[]) => Math.round([...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!);
    recordMeasure('pickCost', {
      workers, jobsPassedOver: 200, oneProcessorPoolUs: median(samples.oneProcessorPool!), threePoolsUs: median(samples.threePools!),
    });
    expect(await pick('w0', { budget: 4, gpus: 0, memoryMb: 8192 })).toMatchObject({ kind: 'none' });
  });
});
