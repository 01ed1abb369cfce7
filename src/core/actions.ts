/**
 * What a user can do to a job from anywhere (CLI, monitor), whatever host
 * runs it (SPEC §6, §7):
 * 1. find a job by name: queued, running or done;
 * 2. cancel: a queued one is moved to QM_dJobs marked cancelled (the rename
 *    out of QM_qJobs wins against a worker's claim: exactly one succeeds);
 *    a running one is killed by its worker, reached through the control channel.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { JobStore } from './jobstore.js';
import { exists, moveStamped, type Layout } from './folders.js';
import { keys } from './redis.js';
import type { DoneRecord, QueuedJob, RunningInfo } from './status.js';

export type FoundJob =
  | { state: 'queued'; name: string; id: string | undefined; job: QueuedJob | undefined }
  | { state: 'running'; name: string; info: RunningInfo }
  | { state: 'done'; name: string; record: DoneRecord };

/** The current job of that name: queued first, then running, then its latest done record. */
export async function findJob(store: JobStore, layout: Layout, name: string): Promise<FoundJob | undefined> {
  if (await exists(path.join(layout.queued, name))) {
    const id = await store.redis.hget(keys.names, name);
    const job = id ? (await store.job(id))?.data : undefined;
    return { state: 'queued', name, id: id ?? undefined, job };
  }
  const info = (await store.running()).find((r) => r.name === name);
  if (info) return { state: 'running', name, info };
  const record = await store.lastDone(name);
  if (record) return { state: 'done', name, record };
  return undefined;
}

export type CancelResult =
  /** `job`: what the queue knew of it (its mail settings...), when it was queued in Redis */
  | { kind: 'cancelled'; folder: string; record: DoneRecord; job: QueuedJob | undefined }
  | { kind: 'kill-requested'; id: string; worker: string; host: string }
  | { kind: 'not-found' }
  | { kind: 'already-done'; record: DoneRecord };

export async function cancelJob(store: JobStore, layout: Layout, name: string, by: string): Promise<CancelResult> {
  const found = await findJob(store, layout, name);
  if (!found) return { kind: 'not-found' };
  if (found.state === 'done') return { kind: 'already-done', record: found.record };
  if (found.state === 'running') {
    await requestKill(store, found.info.id, by);
    return { kind: 'kill-requested', id: found.info.id, worker: found.info.worker, host: found.info.host };
  }
  const now = new Date();
  let target: string;
  try {
    target = await moveStamped(path.join(layout.queued, name), layout.done, name, now);
  } catch (err) {
    // claimed by a worker a moment ago: it is running now
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return cancelJob(store, layout, name, by);
    throw err;
  }
  await fs.appendFile(path.join(target, 'process.log'), `Job cancelled by ${by} at: ${now.toISOString()} before it started\n`);
  const id = found.id ?? `cancelled-${now.getTime().toString(36)}`;
  const record: DoneRecord = {
    id,
    name,
    info: found.job?.info,
    email: found.job?.email,
    nbProc: found.job?.nbProc ?? 1,
    priority: found.job?.priority ?? 0,
    enqueuedAt: found.job?.enqueuedAt,
    endedAt: now.getTime(),
    folder: path.relative(layout.root, target),
    outcome: { kind: 'cancelled', by },
  };
  await store.recordDone(record);
  if (found.id) await store.queue.remove(found.id).catch(() => undefined);
  return { kind: 'cancelled', folder: target, record, job: found.job };
}

/** Asks whichever worker runs job `id` to kill it (SIGTERM, SIGKILL after kill_grace). */
export async function requestKill(store: JobStore, id: string, by: string): Promise<void> {
  await store.redis.publish(keys.control, JSON.stringify({ type: 'kill', id, by }));
}
