/**
 * What a user can do to a job from anywhere (CLI, monitor), whatever host
 * runs it (SPEC §6, §7): cancel. A queued job is ended unrun
 * (Lifecycle.cancelQueued: the rename out of QM_qJobs wins against a
 * worker's claim, exactly one succeeds); a running one is killed by its
 * worker, reached through the control channel.
 */
import path from 'node:path';
import { exists } from './folders.js';
import type { Lifecycle } from './lifecycle.js';
import type { DoneRecord } from './status.js';
import { taskName } from './job-array.js';

export type CancelResult =
  | { kind: 'cancelled'; folder: string; record: DoneRecord }
  | { kind: 'kill-requested'; id: string; worker: string; host: string }
  | { kind: 'not-found' }
  /** an array: its queued tasks cancelled, a kill asked for each running one */
  | { kind: 'array'; cancelled: number; killed: Array<{ id: string; name: string }> }
  | { kind: 'already-done'; record: DoneRecord };

export async function cancelJob(lifecycle: Lifecycle, name: string, by: string): Promise<CancelResult> {
  const { store, layout } = lifecycle;
  const array = await store.arrayInfo(name);
  const running = await store.running();
  if (array && ((await exists(path.join(layout.queued, name))) || running.some((r) => r.array?.id === array.id))) {
    return cancelArray(lifecycle, array.indices.map((i) => taskName(name, i)), array.id, by);
  }
  const queuedId = await store.queuedId(name);
  const task = queuedId ? await store.job(queuedId) : undefined;
  if (task?.data.array && !(await exists(path.join(layout.queued, name)))) {
    const record = await lifecycle.cancelQueuedTask(name, by);
    if (record) return { kind: 'cancelled', folder: path.join(layout.root, record.folder), record };
  }
  if (await exists(path.join(layout.queued, name))) {
    const record = await lifecycle.cancelQueued(name, by);
    if (record) return { kind: 'cancelled', folder: path.join(layout.root, record.folder), record };
    // claimed by a worker a moment ago: it is running now (or has ended)
  }
  const info = (await store.running()).find((r) => r.name === name);
  if (info) {
    await store.requestKill(info.id, by);
    return { kind: 'kill-requested', id: info.id, worker: info.worker, host: info.host };
  }
  const record = await store.lastDone(name);
  return record ? { kind: 'already-done', record } : { kind: 'not-found' };
}

/** Every task of an array: the queued ones cancelled, the running ones asked to stop. */
async function cancelArray(lifecycle: Lifecycle, names: string[], arrayId: string, by: string): Promise<CancelResult> {
  const { store } = lifecycle;
  let cancelled = 0;
  const queued = await store.liveQueued(names);
  for (const name of names) {
    if (queued.has(name) && (await lifecycle.cancelQueuedTask(name, by))) cancelled += 1;
  }
  const killed = (await store.running()).filter((r) => r.array?.id === arrayId);
  for (const info of killed) await store.requestKill(info.id, by);
  return { kind: 'array', cancelled, killed: killed.map((r) => ({ id: r.id, name: r.name })) };
}
