/**
 * A worker that waits with processors free is woken by the first change of
 * the queue after its last look (BullMQ's event stream, from the id its pick
 * returned), and reads nothing while it is busy.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { QueueWatch, Wakeup } from '../../src/worker/wakeup.js';
import { lastEventId, testQueue } from '../helpers/redis.js';

const t = testQueue();
let wakeup: Wakeup;
let watch: QueueWatch;

afterAll(() => watch.close());

beforeEach(async () => {
  watch?.close();
  await t.redis.flushall();
  wakeup = new Wakeup();
  watch = new QueueWatch(t.server.client(), t.queue.keys.events!, wakeup, pino({ level: 'silent' }));
});

/**
 * Resolves true if the worker is woken within ms, false if not. A timer may
 * seem to fire a millisecond early by the clock: only a wait well short of
 * the timeout is a wake-up.
 */
async function woken(ms: number): Promise<boolean> {
  const t0 = performance.now();
  await wakeup.wait(ms);
  return performance.now() - t0 < ms - 50;
}

describe('QueueWatch', () => {
  it('wakes the worker when a job is queued after its last look', async () => {
    watch.watchAfter(await lastEventId(t));
    const wait = woken(3000);
    await t.queue.add('a', { name: 'a', nbProc: 1 });
    expect(await wait).toBe(true);
  });

  it('a job queued before the last look does not wake it: the look saw it', async () => {
    await t.queue.add('a', { name: 'a', nbProc: 1 });
    watch.watchAfter(await lastEventId(t));
    expect(await woken(300)).toBe(false);
    // the watch was live all along: the next job wakes it
    const wait = woken(3000);
    await t.queue.add('b', { name: 'b', nbProc: 1 });
    expect(await wait).toBe(true);
  });

  it('catches a change made between the look and the start of the watch', async () => {
    const seen = await lastEventId(t);
    await t.queue.add('a', { name: 'a', nbProc: 1 });
    watch.watchAfter(seen);
    expect(await woken(3000)).toBe(true);
  });

  it('reads nothing while the worker looks at the queue itself (or is busy)', async () => {
    const seen = await lastEventId(t);
    watch.watchAfter(seen);
    watch.ignore();
    await t.queue.add('a', { name: 'a', nbProc: 1 });
    expect(await woken(300)).toBe(false);
    // watching again from the same point, the change it ignored wakes it
    watch.watchAfter(seen);
    expect(await woken(3000)).toBe(true);
  });

  it('events that cannot let a job start do not wake it', async () => {
    await t.queue.add('a', { name: 'a', nbProc: 1 });
    watch.watchAfter(await lastEventId(t));
    await t.redis.xadd(t.queue.keys.events!, '*', 'event', 'progress', 'jobId', 'a', 'data', '1');
    expect(await woken(300)).toBe(false);
    await t.redis.xadd(t.queue.keys.events!, '*', 'event', 'removed', 'jobId', 'a', 'prev', 'waiting');
    expect(await woken(3000)).toBe(true);
  });
});
