/**
 * Runs long-lived roles until SIGTERM/SIGINT (SPEC §4): the first signal
 * stops taking work and finishes cleanly (running jobs are waited for, or
 * requeued with `shutdown = requeue`); a second one kills running jobs
 * (SIGTERM, SIGKILL after kill_grace). Exit code 0.
 */
import { promises as fs } from 'node:fs';
import type { Settings } from '../core/settings-types.js';
import { ensureLayout, layoutOf } from '../core/folders.js';
import { logger } from '../core/log.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../core/embedded-redis.js';
import { IngestRole } from '../ingest/ingest.js';
import { WorkerRole } from '../worker/worker.js';
import { WorkerNameTaken } from '../worker/liveness.js';
import { UserError } from './context.js';

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
  // every check a user must fix comes before anything is made
  if (!redisUrl && (!roles.ingest || !roles.worker)) {
    throw new UserError('redis_url is empty: only "qm start" runs an embedded Redis; set redis_url (or QM_REDIS_URL) for separate roles', 2);
  }
  try {
    await ensureLayout(layout);
    await fs.access(layout.queued, fs.constants.W_OK);
  } catch (err) {
    throw new UserError(`QM_FOLDER ${layout.root} is not usable: ${(err as Error).message}`, 2);
  }
  let embedded: EmbeddedRedis | undefined;
  if (!redisUrl) {
    try {
      embedded = await startEmbeddedRedis(layout.internal, logger('redis'));
    } catch (err) {
      throw new UserError((err as Error).message, 2);
    }
    redisUrl = embedded.url;
  }

  const parts: Stoppable[] = [];
  if (roles.ingest) {
    const ingest = new IngestRole(settings, redisUrl);
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
  log.info(`QM running on ${layout.root}`);

  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals === 1) {
        log.info(`${signal}: stopping (send it again to kill running jobs)`);
        void Promise.allSettled(parts.map((p) => p.stop())).then(() => resolve());
      } else {
        log.info(`${signal} again: killing running jobs`);
        for (const p of parts) p.kill?.();
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  if (embedded) await embedded.stop();
  log.info('stopped');
}
