/**
 * The Redis side of a short command (`qm submit`, `status`, `cancel`,
 * `stats`): one connection to the running QM (redis_url, or the embedded
 * Redis of `qm start`), closed at the end, with the job store and the
 * lifecycle over it. A Redis that cannot be reached is one clear error, not a
 * hang. client.ts adds the read model and the operations for the commands
 * that need them; `qm submit` needs neither, and loads less.
 */
import type { Settings } from '../core/settings-types.js';
import { layoutOf, type Layout } from '../core/folders.js';
import { connectClient, openQueue } from '../core/redis.js';
import { JobStore } from '../core/jobstore.js';
import { Lifecycle } from '../core/lifecycle.js';
import { JobMailer } from '../core/mail.js';
import { lazyLogger } from '../core/log.js';
import { UserError, clientRedisUrl } from './context.js';
import { refuseUntestedBullmq } from './bullmq-check.js';

export interface StoreClient {
  settings: Settings;
  layout: Layout;
  store: JobStore;
  lifecycle: Lifecycle;
}

export async function withStore<T>(settings: Settings, use: (client: StoreClient) => Promise<T>): Promise<T> {
  refuseUntestedBullmq();
  const url = clientRedisUrl(settings);
  const redis = connectClient(url);
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new UserError(`cannot reach Redis at ${url}: ${(err as Error).message}`);
  }
  const layout = layoutOf(settings.server.qmFolder);
  // BullMQ's classes are loaded only if the command reads jobs through them (qm submit adds without them)
  const store = new JobStore(redis, () => openQueue(redis), settings.server.keepDone);
  const log = lazyLogger('qm');
  const mailer = JobMailer.create(settings, log);
  try {
    return await use({ settings, layout, store, lifecycle: new Lifecycle(store, layout, log, mailer) });
  } finally {
    await mailer?.close();
    await store.close();
    redis.disconnect();
  }
}
