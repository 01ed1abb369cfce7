/**
 * Section 4: a long queue that must not slow anything down.
 * 1. fill: with only `qm ingest` running (no worker), N folders (priority -1)
 *    are dropped at once and ingested: N folders in QM_qJobs, N jobs in the
 *    BullMQ queue and in QM's name index.
 * 2. hold: the bench takes each of them as a worker would and parks it in
 *    BullMQ's delayed set for a week. They stay queued for QM (folders,
 *    name index, rescans) but no worker can fetch them, and no worker is
 *    busy running them: the probes that follow meet an idle QM whose only
 *    difference from section 3 is the N queued jobs. (`qm pause` would stop
 *    the probes too, and `qm hold` takes one name at a time.)
 * 3. release (for the monitor section): promote them all; they run.
 */
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { BULL_PREFIX, QUEUE_NAME, keys, openQueue } from '../src/core/redis.js';
import type { Site } from './env.js';
import { dropStaged, stageJob } from './jobs.js';
import { round3 } from './baseline.js';
import { nowMs, waitUntil } from './wait.js';

const WEEK_MS = 7 * 24 * 3600 * 1000;
const HOLDERS = 16;

export interface FillResult {
  queued: number;
  /** first rename → last one in QM's name index */
  ingestSeconds: number;
  ingestPerSecond: number;
}

export async function fillQueue(site: Site, redis: Redis, count: number, prefix: string): Promise<FillResult> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`);
  for (const name of names) stageJob(site, name, 'true', -1);
  const t0 = nowMs();
  for (const name of names) dropStaged(site, name);
  await waitUntil(async () => (await redis.hlen(keys.names)) >= count, Math.max(120_000, count * 50), `${count} jobs queued`, 50);
  const seconds = (nowMs() - t0) / 1000;
  return { queued: count, ingestSeconds: round3(seconds), ingestPerSecond: Math.round(count / seconds) };
}

/** Parks every fetchable job in the delayed set; returns how many. */
export async function holdQueued(redis: Redis): Promise<number> {
  const connection = redis.duplicate();
  const holder = new Worker(QUEUE_NAME, null, { connection, prefix: BULL_PREFIX, autorun: false });
  holder.on('error', () => undefined);
  let held = 0;
  const lane = async (lane: number) => {
    for (let i = 0; ; i++) {
      const token = `bench-hold:${lane}:${i}`;
      const job = await holder.getNextJob(token, { block: false });
      if (!job) return;
      await job.moveToDelayed(Date.now() + WEEK_MS, token);
      held += 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: HOLDERS }, (_, i) => lane(i)));
  } finally {
    await holder.close();
    connection.disconnect();
  }
  return held;
}

export async function releaseHeld(redis: Redis): Promise<void> {
  const connection = redis.duplicate();
  const queue = openQueue(connection);
  try {
    await queue.promoteJobs();
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
