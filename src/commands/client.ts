/**
 * The Redis side of a short command (`qm submit`, `status`, `cancel`,
 * `stats`): one connection to the running QM (redis_url, or the embedded
 * Redis of `qm start`), closed at the end. A Redis that cannot be reached is
 * one clear error, not a hang.
 */
import type { Settings } from '../core/settings-types.js';
import { layoutOf, type Layout } from '../core/folders.js';
import { connectClient, openQueue } from '../core/redis.js';
import { JobStore } from '../core/jobstore.js';
import { UserError, clientRedisUrl } from './context.js';

export interface Client {
  settings: Settings;
  layout: Layout;
  store: JobStore;
}

export async function withClient<T>(settings: Settings, use: (client: Client) => Promise<T>): Promise<T> {
  const url = clientRedisUrl(settings);
  const redis = connectClient(url);
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new UserError(`cannot reach Redis at ${url}: ${(err as Error).message}`);
  }
  const store = new JobStore(redis, openQueue(redis), settings.server.keepDone);
  try {
    return await use({ settings, layout: layoutOf(settings.server.qmFolder), store });
  } finally {
    await store.queue.close().catch(() => undefined);
    redis.disconnect();
  }
}
