/**
 * A worker that waits with processors free is woken by the first change of
 * the queue after its last look (BullMQ's event stream, from the id its pick
 * returned), and reads nothing while it is busy.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { openQueue } from '../../src/core/redis.js';
import { QueueWatch, Wakeup } from '../../src/worker/wakeup.js';
import { TestRedis } from '../helpers/redis.js';

let server: TestRedis;
let redis: Redis;
let queue: Queue;
let wakeup: Wakeup;
let watch: QueueWatch;

beforeAll(async () => {
  server = await TestRedis.start();
  redis = server.client();
  queue = openQueue(redis);
});

afterAll(async () => {
  watch.close();
  await queue.close();
  redis.disconnect();
  await server.stop();
});

beforeEach(async () => {
  watch?.close();
  await redis.flushall();
  wakeup = new Wakeup();
  watch = new QueueWatch(server.client(), queue.keys.events!, wakeup, pino({ level: 'silent' }));
});

/** The id of the queue's last event now, as a pick returns it. */
async function lastEventId(): Promise<string> {
  const [last] = await redis.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1);
  return last?.[0] ?? '0-0';
}

/** Resolves true if the worker is woken within ms, false if not. */
async function woken(ms: number): Promise<boolean> {
  const t0 = Date.now();
  await wakeup.wait(ms);
  return Date.now() - t0 < ms;
}

describe('QueueWatch', () => {
  it('wakes the worker when a job is queued after its last look', async () => {
    watch.watchAfter(await lastEventId());
    const wait = woken(3000);
    await queue.add('a', { name: 'a', nbProc: 1 });
    expect(await wait).toBe(true);
  });

  it('a job queued before the last look does not wake it: the look saw it', async () => {
    await queue.add('a', { name: 'a', nbProc: 1 });
    watch.watchAfter(await lastEventId());
    expect(await woken(300)).toBe(false);
  });

  it('catches a change made between the look and the start of the watch', async () => {
    const seen = await lastEventId();
    await queue.add('a', { name: 'a', nbProc: 1 });
    watch.watchAfter(seen);
    expect(await woken(3000)).toBe(true);
  });

  it('reads nothing while the worker looks at the queue itself (or is busy)', async () => {
    watch.watchAfter(await lastEventId());
    watch.ignore();
    await queue.add('a', { name: 'a', nbProc: 1 });
    expect(await woken(300)).toBe(false);
  });

  it('events that cannot let a job start do not wake it', async () => {
    await queue.add('a', { name: 'a', nbProc: 1 });
    watch.watchAfter(await lastEventId());
    await redis.xadd(queue.keys.events!, '*', 'event', 'progress', 'jobId', 'a', 'data', '1');
    expect(await woken(300)).toBe(false);
    await redis.xadd(queue.keys.events!, '*', 'event', 'removed', 'jobId', 'a', 'prev', 'waiting');
    expect(await woken(3000)).toBe(true);
  });
});
