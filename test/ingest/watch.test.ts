/**
 * How `qm ingest` notices QM_qJobs changing, in both watch modes: a dropped
 * folder is queued, a deleted one leaves the queue, and a QM_qJobs deleted
 * and made again is still watched. No worker runs: the jobs stay queued.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { Queue } from 'bullmq';
import { BULL_PREFIX, QUEUE_NAME, keys } from '../../src/core/redis.js';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, makeQmDir, startQm, type QmDir, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';

describe.each(['events', 'polling'])('qm ingest with watch_mode = %s', (mode) => {
  let server: TestRedis;
  let redis: Redis;
  let queue: Queue;
  let qm: QmDir;
  let ingest: QmProcess;

  beforeAll(async () => {
    server = await TestRedis.start();
    redis = server.client();
    queue = new Queue(QUEUE_NAME, { connection: server.client(), prefix: BULL_PREFIX });
  });

  afterAll(async () => {
    await queue.close();
    redis.disconnect();
    await server.stop();
  });

  afterEach(async () => {
    expect(await ingest.stop()).toBe(0);
    qm.cleanup();
    await server.flushall();
  });

  async function start(): Promise<void> {
    qm = makeQmDir({ QMServer: { redis_url: server.url, watch_mode: mode, poll_interval: 0.2, settle_time: 0.1 } });
    ingest = startQm(['ingest', '-c', qm.cfg]);
    await ingest.waitForOutput(/watching/);
  }

  /** The BullMQ job of a queued name, or undefined. */
  async function queuedJob(name: string) {
    const id = await redis.hget(keys.names, name);
    return id ? queue.getJob(id) : undefined;
  }

  const job = { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) };

  it('queues a dropped folder and unqueues it when the folder is deleted', async () => {
    await start();
    await dropJob(qm, 'short_lived', job);
    const queued = await waitFor(() => queuedJob('short_lived'), { what: 'short_lived queued' });
    expect(queued.data).toMatchObject({ name: 'short_lived', script: 'true' });

    rmSync(path.join(qm.queued, 'short_lived'), { recursive: true });
    await waitFor(async () => (await redis.hexists(keys.names, 'short_lived')) === 0, { what: 'short_lived unqueued' });
    expect(await queue.getJob(queued.id!)).toBeUndefined();
    await ingest.waitForOutput(/short_lived: left QM_qJobs: no longer queued/);
  });

  it('still sees drops after QM_qJobs was deleted and made again', async () => {
    await start();
    rmSync(qm.queued, { recursive: true });
    mkdirSync(qm.queued);
    await dropJob(qm, 'after_remake', job);
    // the watcher of the old folder sees nothing: the periodic rescan (5 s at most) watches the new one
    await waitFor(() => queuedJob('after_remake'), { what: 'after_remake queued', timeout: 15_000 });
    await dropJob(qm, 'second_drop', job);
    await waitFor(() => queuedJob('second_drop'), { what: 'second_drop queued' });
  });
});
