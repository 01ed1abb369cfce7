/**
 * Jobs whose worker vanished (SPEC §4). BullMQ hands a job back when its lock
 * expires; if its folder is in QM_Jobs and the worker that ran it has no
 * heartbeat any more (or is a new instance of that name), the job is moved per
 * `on_worker_loss`: to QM_lost+found (default) or back to QM_qJobs once.
 * A live worker's job is never touched.
 */
import type { Job } from 'bullmq';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { JobStore } from '../core/jobstore.js';
import { moveToLostFound, type Layout } from '../core/folders.js';
import type { Logger } from '../core/log.js';
import { keys } from '../core/redis.js';
import type { Settings } from '../core/settings-types.js';
import type { QueuedJob, RunningInfo } from '../core/status.js';

export interface OrphanContext {
  store: JobStore;
  layout: Layout;
  settings: Settings;
  log: Logger;
}

/** Is the worker instance that ran a job still alive? */
export async function ownerAlive(store: JobStore, info: RunningInfo): Promise<boolean> {
  const raw = await store.redis.get(keys.worker(info.worker));
  if (!raw) return false;
  return (JSON.parse(raw) as { instance?: string }).instance === info.instance;
}

export async function recoverOrphan(
  ctx: OrphanContext,
  job: Job<QueuedJob>,
  token: string,
  info: RunningInfo,
): Promise<void> {
  const { store, layout, log } = ctx;
  const name = info.name;
  if (await ownerAlive(store, info)) {
    // its lock lapsed (a long Redis outage?) but the owner runs it and will record it
    log.debug({ job: name }, `handed back while ${info.worker} still runs it: left alone`);
    await job.moveToCompleted({ duplicate: true }, token, false).catch(() => undefined);
    return;
  }
  const folder = path.join(layout.running, name);
  const reason = `worker lost: ${info.worker} on ${info.host} stopped while running it (started ${new Date(info.startedAt).toISOString()})`;
  await fs.appendFile(path.join(folder, 'process.log'), `Job lost at: ${new Date().toISOString()}: ${reason}\n`).catch(() => undefined);
  if (ctx.settings.server.onWorkerLoss === 'requeue' && !job.data.requeues) {
    await job.updateData({ ...job.data, requeues: 1 });
    await store.redis.hdel(keys.running, info.id);
    await store.redis.hset(keys.names, name, info.id);
    await fs.rename(folder, path.join(layout.queued, name));
    await job.moveToWait(token);
    log.warn({ job: name }, `${reason}; requeued (once)`);
    return;
  }
  const target = await moveToLostFound(layout, folder, name, reason);
  await store.recordDone({
    id: info.id,
    name,
    info: info.info,
    email: info.email,
    nbProc: info.nbProc,
    priority: job.data.priority,
    worker: info.worker,
    host: info.host,
    enqueuedAt: info.enqueuedAt,
    startedAt: info.startedAt,
    endedAt: Date.now(),
    folder: path.relative(layout.root, target),
    outcome: { kind: 'lost', reason },
  });
  await job.moveToCompleted({ lost: reason }, token, false).catch(() => undefined);
  log.warn({ job: name }, `${reason}; moved to ${path.relative(layout.root, target)}`);
}
