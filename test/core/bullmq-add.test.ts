/**
 * core/bullmq-add.ts adds a job without BullMQ's classes: Redis must then
 * hold exactly what BullMQ's own Queue.add (as QM called it) leaves there.
 * Each case adds the same job both ways, into two databases of one Redis,
 * at the same (frozen) Date.now(), and compares every key: its type, its
 * content, the job hash's fields and their order, scores, markers, events
 * (all but the stream entry ids, which Redis stamps). The light add is made
 * over ioredis (the roles) and over the light client (the short commands).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { createHash } from 'node:crypto';
import { ADD_SCRIPTS, addJobs, bullQueueKeys, type NewJob } from '../../src/core/bullmq-add.js';
import { HELD_DELAY_MS, bullPriority } from '../../src/core/bullmq-internals.js';
import { BULL_PREFIX, QUEUE_NAME, bullKeys, openQueue } from '../../src/core/redis.js';
import { LiteRedis } from '../../src/core/lite-redis.js';
import type { StoreRedis } from '../../src/core/store-redis.js';
import { TestRedis } from '../helpers/redis.js';

let server: TestRedis;
/** db 0: BullMQ's Queue.add; db 1: the light add (read back through `db1`) */
let viaBullmq: Redis;
let viaScripts: StoreRedis & { disconnect(): void };
let db1: Redis;
let queue: Queue;

const connections = {
  ioredis: () => new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: null, db: 1 }),
  'the light client': () => new LiteRedis({ host: '127.0.0.1', port: server.port, db: 1 }),
};

beforeAll(async () => {
  server = await TestRedis.start();
  viaBullmq = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: null, db: 0 });
  db1 = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: null, db: 1 });
});

afterAll(async () => {
  viaBullmq.disconnect();
  db1.disconnect();
  await server.stop();
});

beforeEach(async () => {
  await viaBullmq.flushall();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2031-05-06T07:08:09.123Z'));
  queue = openQueue(viaBullmq);
  // the meta a Queue writes once open
  await queue.getVersion();
});

afterEach(async () => {
  vi.useRealTimers();
  await queue.close();
  viaScripts.disconnect();
});

/** How QM's JobStore.enqueue called Queue.add, for the same job. */
async function addWithBullmq(job: NewJob): Promise<void> {
  await queue.add(job.name, job.data, {
    jobId: job.id,
    priority: job.priority,
    delay: job.delayMs,
    removeOnComplete: { count: job.keep },
    removeOnFail: { count: job.keep },
  });
}

/** Every key of the database and what it holds (a stream: its entries' fields). */
async function contents(redis: Redis): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await redis.keys('*')).sort()) {
    const type = await redis.type(key);
    if (type === 'string') out[key] = await redis.get(key);
    else if (type === 'hash') out[key] = Object.entries(await redis.hgetall(key));
    else if (type === 'zset') out[key] = await redis.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'list') out[key] = await redis.lrange(key, 0, -1);
    else if (type === 'stream') out[key] = (await redis.xrange(key, '-', '+')).map(([, fields]) => fields);
    else out[key] = `a ${type}`;
  }
  return out;
}

function jobOf(name: string, over: Partial<NewJob> = {}): NewJob {
  const data = { name, script: '/bin/sh ./run.sh', format: 'sh', nbProc: 2, priority: 0, after: [], mailType: [], keys: { é: 'ü' } };
  return { id: `m0${name}-0a1b2c3d`, name, data, priority: bullPriority(0), keep: 100, ...over };
}

/** `scriptsHeld`: what Redis holds of the add scripts when they are added without BullMQ (default: what Queue.add left). */
async function expectSameBothWays(jobs: NewJob[], scriptsHeld?: Array<keyof typeof ADD_SCRIPTS>): Promise<Record<string, unknown>> {
  for (const job of jobs) await addWithBullmq(job);
  if (scriptsHeld) {
    await db1.script('FLUSH');
    for (const held of scriptsHeld) await db1.script('LOAD', ADD_SCRIPTS[held].script().content);
  }
  await addJobs(viaScripts, bullKeys, jobs);
  const [expected, actual] = [await contents(viaBullmq), await contents(db1)];
  expect(actual).toEqual(expected);
  return actual;
}

describe.each(Object.keys(connections) as Array<keyof typeof connections>)('adding a job without BullMQ, over %s', (via) => {
  beforeEach(() => {
    // a new connection, as a new Queue: the meta is written with its first add
    viaScripts = connections[via]();
  });

  it('names the queue keys as a BullMQ Queue does, and each script by the SHA-1 of its text', () => {
    expect(bullQueueKeys(BULL_PREFIX, QUEUE_NAME)).toEqual(queue.keys);
    for (const { sha, script, keyTypes } of Object.values(ADD_SCRIPTS)) {
      expect(createHash('sha1').update(script().content).digest('hex')).toBe(sha);
      expect(keyTypes).toHaveLength(script().keys);
    }
  });

  it('sends a script Redis does not hold (restarted, or its scripts flushed), and adds each job once', async () => {
    await expectSameBothWays([jobOf('cold'), jobOf('cold-2', { priority: bullPriority(2) })], []);
    expect(await db1.script('EXISTS', ADD_SCRIPTS.prioritized.sha, ADD_SCRIPTS.delayed.sha)).toEqual([1, 0]);
    await expectSameBothWays([jobOf('cold-delayed', { delayMs: 5_000 }), jobOf('cold-delayed-2', { delayMs: 6_000 })], []);
    expect(await db1.script('EXISTS', ADD_SCRIPTS.prioritized.sha, ADD_SCRIPTS.delayed.sha)).toEqual([0, 1]);
  });

  it('leaves what Queue.add leaves for a plain job', async () => {
    const after = await expectSameBothWays([jobOf('plain')]);
    expect(Object.keys(after)).toContain(`${BULL_PREFIX}:${QUEUE_NAME}:prioritized`);
  });

  it('for a prioritized job, with a long name and non-ASCII data', async () => {
    await expectSameBothWays([jobOf('x'.repeat(300), { priority: bullPriority(5) }), jobOf('low', { priority: bullPriority(-7) })]);
  });

  it('for a held job (delayed for years) and one with a begin time', async () => {
    const after = await expectSameBothWays([jobOf('held', { delayMs: HELD_DELAY_MS }), jobOf('begin', { delayMs: 60_000, priority: bullPriority(3) })]);
    expect(after[`${BULL_PREFIX}:${QUEUE_NAME}:delayed`]).toHaveLength(4);
  });

  it('for jobs added one after another, the second and later on a connection already used', async () => {
    await expectSameBothWays([jobOf('a')]);
    await expectSameBothWays([jobOf('b', { priority: bullPriority(1) }), jobOf('c', { delayMs: 5_000 })]);
  });

  it('while the queue is paused', async () => {
    const paused = openQueue(db1);
    await paused.getVersion();
    await Promise.all([queue.pause(), paused.pause()]);
    await paused.close();
    await expectSameBothWays([jobOf('paused'), jobOf('paused-later', { delayMs: 1_000 })]);
  });
});
