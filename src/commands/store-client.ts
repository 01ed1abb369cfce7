/**
 * The Redis side of a short command (`qm submit`, `status`, `cancel`,
 * `stats`): one connection to the running QM (redis_url, or the embedded
 * Redis of `qm start`), closed at the end, with the job store over it. A
 * Redis that cannot be reached is one clear error, not a hang. client.ts adds
 * the lifecycle, the read model and the operations for the commands that need
 * them; `qm submit` needs none of them (it queues with queue-job.ts), and
 * loads less.
 * The connection is the light client (core/lite-redis.ts): ioredis is loaded
 * only through Sentinel, and with BullMQ's classes when a command reads jobs
 * through them (on a connection of their own).
 */
import type { Settings } from '../core/settings-types.js';
import { layoutOf, type Layout } from '../core/folders.js';
import { redisOptions } from '../core/redis-url.js';
import { LiteRedis } from '../core/lite-redis.js';
import type { StoreRedis } from '../core/store-redis.js';
import type { Queue } from '../core/bullmq-internals.js';
import { JobStore } from '../core/jobstore.js';
import { UserError, clientRedisUrl } from './context.js';
import { refuseUntestedBullmq } from './bullmq-check.js';

export interface StoreClient {
  settings: Settings;
  layout: Layout;
  store: JobStore;
}

export async function withStore<T>(settings: Settings, use: (client: StoreClient) => Promise<T>): Promise<T> {
  refuseUntestedBullmq();
  const url = clientRedisUrl(settings);
  const connection = await connect(url);
  try {
    await connection.ready();
  } catch (err) {
    connection.close();
    throw new UserError(`cannot reach Redis at ${url}: ${(err as Error).message}`);
  }
  const layout = layoutOf(settings.server.qmFolder);
  const store = new JobStore(connection.redis, connection.queue, settings.server.keepDone);
  try {
    return await use({ settings, layout, store });
  } finally {
    await store.close();
    connection.close();
  }
}

interface Connection {
  redis: StoreRedis;
  /** resolves once Redis answers */
  ready(): Promise<unknown>;
  /** BullMQ's Queue, opened when first needed */
  queue: () => Promise<Queue>;
  close(): void;
}

/** The light client, but through Sentinel (ioredis follows the primary there). */
async function connect(url: string): Promise<Connection> {
  const options = redisOptions(url);
  if (options.sentinels) {
    const { connectClient, openQueue } = await import('../core/redis.js');
    const redis = connectClient(url);
    return { redis, ready: () => redis.ping(), queue: async () => openQueue(redis), close: () => redis.disconnect() };
  }
  const redis = new LiteRedis({ ...options, connectionName: 'qm-client' });
  // BullMQ's classes work on an ioredis connection: one of their own
  let bullmq: { disconnect(): void } | undefined;
  const queue = async () => {
    const { connectClient, openQueue } = await import('../core/redis.js');
    const connection = connectClient(url);
    bullmq = connection;
    return openQueue(connection);
  };
  // connected once Redis answered the connection's first commands (its name, AUTH, SELECT)
  return { redis, ready: () => redis.ready(), queue, close: () => (redis.disconnect(), bullmq?.disconnect()) };
}
