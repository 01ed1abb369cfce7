/** Issue 3: the choice of the next job (JobStore.pick), against a real Redis and BullMQ queue. */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Job } from 'bullmq';
import { keys } from '../../src/core/redis.js';
import { bullPriority } from '../../src/core/bullmq-internals.js';
import { JobStore, type Pick } from '../../src/core/jobstore.js';
import { lastEventId, testQueue } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const t = testQueue();
let store: JobStore;

beforeAll(() => {
  store = new JobStore(t.redis, t.queue, 100);
});

beforeEach(async () => {
  await t.redis.flushall();
});

async function add(name: string, nbProc: number, priority = 0): Promise<void> {
  await t.queue.add(name, { name, nbProc }, { jobId: name, priority: bullPriority(priority) });
}

/** A live worker as the others see it: its heartbeat carries its budget. */
async function alive(worker: string, budget: number): Promise<void> {
  await t.redis.multi().set(keys.worker(worker), JSON.stringify({ name: worker, budget }), 'EX', 10).sadd(keys.workers, worker).exec();
}

function pick(worker: string, free: number, budget: number): Promise<Pick> {
  return store.pick({ worker, token: `${worker}-token`, lockMs: 20_000, free, budget });
}

/** Picks until nothing is left for that worker; the ids taken. */
async function drain(worker: string, budget: number): Promise<string[]> {
  const taken: string[] = [];
  for (;;) {
    const p = await pick(worker, budget, budget);
    if (p.kind !== 'taken') return taken;
    taken.push(p.id);
  }
}

describe('order', () => {
  it('takes higher priority first, then first in, first out', async () => {
    await add('a', 1, 0);
    await add('b', 1, 5);
    await add('c', 1, 0);
    await add('d', 1, 5);
    await add('e', 1, -3);
    expect(await drain('w', 8)).toEqual(['b', 'd', 'a', 'c', 'e']);
  });
});

describe('room', () => {
  it('takes a job that fits the free processors, with the processors it needs', async () => {
    await add('pair', 2);
    expect(await pick('w', 2, 4)).toMatchObject({ kind: 'taken', id: 'pair', nbProc: 2 });
  });

  it('starts nothing behind a job it could run but has no room for yet (no starvation)', async () => {
    await add('big', 4);
    await add('small', 1);
    expect(await pick('w', 3, 4)).toEqual({ kind: 'waiting', id: 'big', name: 'big', nbProc: 4, lastEventId: await lastEventId(t) });
    expect(await t.queue.getJobState('small')).toBe('prioritized');
    expect(await pick('w', 4, 4)).toMatchObject({ kind: 'taken', id: 'big' });
    expect(await pick('w', 0, 4)).toEqual({ kind: 'waiting', id: 'small', name: 'small', nbProc: 1, lastEventId: await lastEventId(t) });
  });

  it('a blocking worker running a job (no free processors) takes nothing', async () => {
    await add('one', 1);
    expect(await pick('w', 0, 4)).toMatchObject({ kind: 'waiting', id: 'one' });
  });

  it('leaves a job larger than its budget to a live worker that can run it, and takes the ones behind', async () => {
    await alive('w1', 1);
    await alive('w4', 4);
    await add('big', 4);
    await add('small', 1);
    expect(await pick('w1', 1, 1)).toMatchObject({ kind: 'taken', id: 'small', nbProc: 1 });
    expect(await pick('w1', 1, 1)).toEqual({ kind: 'none', nextDelayedAt: undefined, lastEventId: await lastEventId(t) });
    expect(await pick('w4', 4, 4)).toMatchObject({ kind: 'taken', id: 'big', nbProc: 4 });
  });

  it('looks past many jobs too big for it, in BullMQ order, in the wait list and the prioritized set', async () => {
    await alive('w1', 1);
    await alive('w4', 4);
    for (let i = 0; i < 100; i++) await add(`big${i}`, 4);
    await add('small', 1);
    // jobs without a BullMQ priority are in its wait list, served first, oldest first
    const plain = (name: string, nbProc: number) => t.queue.add(name, { name, nbProc }, { jobId: name });
    for (let i = 0; i < 30; i++) await plain(`plainBig${i}`, 4);
    await plain('plainSmall', 1);
    await plain('plainSmall2', 1);
    expect(await drain('w1', 1)).toEqual(['plainSmall', 'plainSmall2', 'small']);
  });

  it('clamps a job only when no live worker could ever fit it, to the largest budget', async () => {
    await alive('w2', 2);
    await alive('w4', 4);
    await add('huge', 16);
    expect(await pick('w2', 2, 2)).toMatchObject({ kind: 'none' });
    expect(await pick('w4', 4, 4)).toMatchObject({ kind: 'taken', id: 'huge', nbProc: 4 });
    // w4 is gone (no heartbeat): now w2 is the largest live worker
    await t.redis.del(keys.worker('w4'));
    await add('huge2', 16);
    expect(await pick('w2', 2, 2)).toMatchObject({ kind: 'taken', id: 'huge2', nbProc: 2 });
    expect(await t.redis.smembers(keys.workers)).toEqual(['w2']);
  });
});

describe('BullMQ states', () => {
  it('makes the job active under the worker lock; BullMQ extends and completes it', async () => {
    await add('job', 1);
    const p = await pick('w', 1, 1);
    expect(p).toMatchObject({ kind: 'taken', id: 'job' });
    // the job as taken comes with the pick: the worker needs no second read
    const taken = (p as { job: Job }).job;
    const read = (await Job.fromId(t.queue, 'job'))!;
    for (const field of ['id', 'name', 'data', 'opts', 'timestamp', 'processedOn', 'processedBy', 'attemptsStarted', 'attemptsMade'] as const) {
      expect(taken[field], field).toEqual(read[field]);
    }
    expect(taken.processedBy).toBe('w');
    expect(await t.queue.getJobState('job')).toBe('active');
    const job = (await Job.fromId(t.queue, 'job'))!;
    expect(job.processedBy).toBe('w');
    await expect(job.moveToCompleted('ok', 'someone-else', false)).rejects.toThrow();
    expect(await job.extendLock('w-token', 20_000)).toBe(1);
    await job.moveToCompleted('ok', 'w-token', false);
    expect(await t.queue.getJobState('job')).toBe('completed');
  });

  it('a delayed job is due again at its time', async () => {
    await add('later', 1);
    await pick('w', 1, 1);
    const job = (await Job.fromId(t.queue, 'later'))!;
    const due = Date.now() + 300;
    await job.moveToDelayed(due, 'w-token');
    const first = await pick('w', 1, 1);
    expect(first.kind).toBe('none');
    expect(first.kind === 'none' && first.nextDelayedAt).toBeGreaterThanOrEqual(due - 5);
    await waitFor(async () => (await pick('w', 1, 1)).kind === 'taken', { what: 'delayed job taken' });
  });

  it('a paused queue starts nothing', async () => {
    await add('job', 1);
    await t.queue.pause();
    expect(await pick('w', 1, 1)).toMatchObject({ kind: 'none' });
    await t.queue.resume();
    expect(await pick('w', 1, 1)).toMatchObject({ kind: 'taken', id: 'job' });
  });

  it('a job BullMQ hands back while recorded as running is taken to be recovered, even without room', async () => {
    await add('orphan', 4);
    await t.redis.hset(keys.running, 'orphan', '{}');
    expect(await pick('w', 0, 1)).toMatchObject({ kind: 'recover', id: 'orphan' });
    expect(await t.queue.getJobState('orphan')).toBe('active');
  });
});

describe('Redis restarts', () => {
  it('loads its script again when Redis has forgotten it', async () => {
    await add('job', 1);
    await t.redis.script('FLUSH');
    expect(await pick('w', 1, 1)).toMatchObject({ kind: 'taken', id: 'job' });
  });
});

describe('many workers', () => {
  it('never gives the same job to two workers', async () => {
    for (let i = 0; i < 60; i++) await add(`j${i}`, 1 + (i % 3));
    const budgets = [1, 2, 3, 4, 2, 3];
    await Promise.all(budgets.map((b, i) => alive(`w${i}`, b)));
    const taken = (await Promise.all(budgets.map((b, i) => drainConcurrently(`w${i}`, b)))).flat();
    expect(taken).toHaveLength(60);
    expect(new Set(taken).size).toBe(60);
  });
});

/** Picks as a worker would, running each job for a moment, until the queue is empty. */
async function drainConcurrently(worker: string, budget: number): Promise<string[]> {
  const taken: string[] = [];
  let free = budget;
  const running: Array<Promise<void>> = [];
  while ((await t.queue.getPrioritizedCount()) > 0 || running.length > 0) {
    const p = await pick(worker, free, budget);
    if (p.kind === 'taken') {
      taken.push(p.id);
      free -= p.nbProc;
      const run = new Promise<void>((r) => setTimeout(r, 5)).then(() => {
        free += p.nbProc;
        running.splice(running.indexOf(run), 1);
      });
      running.push(run);
    } else {
      await Promise.race([...running, new Promise((r) => setTimeout(r, 5))]);
    }
  }
  return taken;
}
