/**
 * `qm health [--worker]`: for container health checks. Exit 0 and one line
 * when this host can work: the QM folder is writable and Redis answers; with
 * --worker, a worker on this host also has a live heartbeat (a hung worker's
 * heartbeat expires). The line also names the active ingest (SPEC §11), or
 * says there is none. Otherwise one line saying what is wrong, exit 1.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import type { Settings } from '../core/settings-types.js';
import { layoutOf } from '../core/folders.js';
import { logger } from '../core/log.js';
import { connect, displayUrl, openQueue } from '../core/redis.js';
import { JobStore } from '../core/jobstore.js';
import { describeLease } from '../core/ingest-lease.js';
import { UserError, clientRedisUrl } from './context.js';

const REDIS_TIMEOUT_MS = 3_000;

export async function health(settings: Settings, opts: { worker?: boolean }): Promise<void> {
  const layout = layoutOf(settings.server.qmFolder);
  try {
    await fs.access(layout.queued, fs.constants.W_OK);
  } catch (err) {
    throw new UserError(`QM folder not writable: ${(err as Error).message}`);
  }
  const url = clientRedisUrl(settings);
  // the answer is the one line below, not the connection's retry warnings
  const redis = connect(url, logger('health').child({}, { level: 'silent' }), 'health');
  // BullMQ's classes are not loaded: a health check reads none of its jobs
  const store = new JobStore(redis, () => openQueue(redis), settings.server.keepDone);
  let ingest: string;
  try {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new UserError(`redis at ${displayUrl(url)} did not answer within ${REDIS_TIMEOUT_MS / 1000} s`)), REDIS_TIMEOUT_MS).unref(),
    );
    await Promise.race([store.ping(), timeout]);
    if (opts.worker) {
      const host = os.hostname();
      const beats = await Promise.race([store.liveWorkers(), timeout]);
      if (!beats.some((hb) => hb.host === host)) throw new UserError(`no live worker heartbeat from host ${host}`);
    }
    const active = await Promise.race([store.activeIngest(), timeout]);
    ingest = active
      ? `active ingest ${describeLease(active.lease)} since ${new Date(active.lease.since).toISOString()}`
      : 'no active ingest';
  } finally {
    redis.disconnect();
  }
  process.stdout.write(`ok: ${layout.root}, redis${opts.worker ? ', worker' : ''}; ${ingest}\n`);
}
