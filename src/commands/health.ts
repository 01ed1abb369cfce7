/**
 * `qm health [--worker]`: for container health checks. Exit 0 and one line
 * when this host can work: the QM folder is writable and Redis answers; with
 * --worker, a worker on this host also has a live heartbeat (a hung worker's
 * heartbeat expires). Otherwise one line saying what is wrong, exit 1.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import type { Settings } from '../core/settings-types.js';
import { layoutOf } from '../core/folders.js';
import { logger } from '../core/log.js';
import { connect, keys } from '../core/redis.js';
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
  try {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new UserError(`redis at ${url} did not answer within ${REDIS_TIMEOUT_MS / 1000} s`)), REDIS_TIMEOUT_MS).unref(),
    );
    await Promise.race([redis.ping(), timeout]);
    if (opts.worker) {
      const host = os.hostname();
      const beats = await Promise.race([workerHosts(redis), timeout]);
      if (!beats.includes(host)) throw new UserError(`no live worker heartbeat from host ${host}`);
    }
  } finally {
    redis.disconnect();
  }
  process.stdout.write(`ok: ${layout.root}, redis${opts.worker ? ', worker' : ''}\n`);
}

/** Hosts of the workers whose heartbeat has not expired. */
async function workerHosts(redis: ReturnType<typeof connect>): Promise<string[]> {
  const hosts: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', keys.workerPattern, 'COUNT', 1000);
    cursor = next;
    const values = found.length > 0 ? await redis.mget(...found) : [];
    for (const v of values) if (v) hosts.push((JSON.parse(v) as { host: string }).host);
  } while (cursor !== '0');
  return hosts;
}
