/**
 * Runs long-lived roles until SIGTERM/SIGINT (SPEC §4): the first signal
 * stops taking work and finishes cleanly (running jobs are waited for, or
 * requeued with `shutdown = requeue`); a second one kills running jobs
 * (SIGTERM, SIGKILL after kill_grace). Exit code 0.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../core/settings-types.js';
import { ensureLayout, layoutOf } from '../core/folders.js';
import { checkStorage, StorageError } from '../core/filesystems.js';
import { logger } from '../core/log.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../core/embedded-redis.js';
import { LeasedIngest } from '../ingest/standby.js';
import { WorkerRole } from '../worker/worker.js';
import { MonitorStartError, startMonitor, type MonitorServer } from '../monitor/server.js';
import { WorkerNameTaken } from '../core/liveness.js';
import { UserError, clientRedisUrl } from './context.js';
import { refuseUntestedBullmq } from './bullmq-check.js';

export interface Roles {
  ingest: boolean;
  worker: boolean;
  monitor: boolean;
}

interface Stoppable {
  /** stop taking work and finish cleanly */
  stop(): Promise<void>;
  /** second signal: end running jobs now */
  kill?(): void;
}

export async function serve(settings: Settings, roles: Roles): Promise<void> {
  const log = logger('qm');
  const layout = layoutOf(settings.server.qmFolder);
  let redisUrl = settings.server.redisUrl;
  const monitorOnly = roles.monitor && !roles.ingest && !roles.worker;
  refuseUntestedBullmq();
  // every check a user must fix comes before anything is made
  if (!redisUrl && !monitorOnly && (!roles.ingest || !roles.worker)) {
    throw new UserError('redis_url is empty: only "qm start" runs an embedded Redis; set redis_url (or QM_REDIS_URL) for separate roles', 2);
  }
  try {
    await ensureLayout(layout);
    await fs.access(layout.queued, fs.constants.W_OK);
  } catch (err) {
    throw new UserError(`QM_FOLDER ${layout.root} is not usable: ${(err as Error).message}${await ownerHint(layout.root, err)}`, 2);
  }
  try {
    await checkStorage(layout, roles.ingest ? settings.server.watchMode : undefined, log);
  } catch (err) {
    if (err instanceof StorageError) throw new UserError(err.message, 2);
    throw err;
  }
  // signals are handled from here on, also while the roles start: a SIGTERM
  // then stops them as soon as they are up
  const parts: Stoppable[] = [];
  let signals = 0;
  let started = false;
  let stopped!: () => void;
  const allStopped = new Promise<void>((resolve) => (stopped = resolve));
  const stopAll = () => void Promise.allSettled(parts.map((p) => p.stop())).then(() => stopped());
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      log.info(`${signal}: stopping (send it again to kill running jobs)`);
      if (started) stopAll();
    } else {
      log.info(`${signal} again: killing running jobs`);
      for (const p of parts) p.kill?.();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let embedded: EmbeddedRedis | undefined;
  // a lone monitor watches the embedded Redis of a running `qm start` on the same folder
  if (!redisUrl && monitorOnly) redisUrl = clientRedisUrl(settings);
  if (!redisUrl) {
    try {
      embedded = await startEmbeddedRedis(layout.internal, logger('redis'));
    } catch (err) {
      throw new UserError((err as Error).message, 2);
    }
    redisUrl = embedded.url;
  }

  if (roles.ingest) {
    const ingest = new LeasedIngest(settings, redisUrl, !roles.worker);
    await ingest.start();
    parts.push({ stop: () => ingest.stop() });
  }
  if (roles.worker) {
    const worker = new WorkerRole(settings, redisUrl);
    await worker.start().catch((err: Error) => {
      throw err instanceof WorkerNameTaken ? new UserError(err.message, 2) : err;
    });
    const mode = settings.server.shutdown === 'requeue' ? 'requeue' : 'wait';
    parts.push({
      stop: async () => {
        await worker.stop(mode);
        await worker.close();
      },
      kill: () => void worker.stop('kill'),
    });
  }
  // the monitor stops last: it shows the running jobs while they finish
  let monitor: MonitorServer | undefined;
  if (roles.monitor) {
    try {
      monitor = await startMonitor(settings, redisUrl);
    } catch (err) {
      if (!(err instanceof MonitorStartError)) throw err;
      if (monitorOnly) throw new UserError(err.message);
      log.error(`${err.message}; QM runs without its monitor`);
    }
  }
  log.info(`QM running on ${layout.root}`);

  started = true;
  if (signals > 0) stopAll();
  await allStopped;
  await monitor?.close();
  if (embedded) await embedded.stop();
  log.info('stopped');
}

/** For a permission error: who owns the folder, who QM runs as, and what to run (e.g. a QM_DATA folder Docker made as root). */
async function ownerHint(root: string, err: unknown): Promise<string> {
  if ((err as NodeJS.ErrnoException).code !== 'EACCES' || !process.getuid) return '';
  let dir = root;
  let stat = await fs.stat(dir).catch(() => undefined);
  while (!stat && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
    stat = await fs.stat(dir).catch(() => undefined);
  }
  if (!stat || stat.uid === process.getuid()) return '';
  return ` (${dir} belongs to uid ${stat.uid}, QM runs as uid ${process.getuid()}: run "chown ${process.getuid()}:${process.getgid!()} ${dir}" as root)`;
}
