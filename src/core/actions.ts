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

export type CancelResult =
  | { kind: 'cancelled'; folder: string; record: DoneRecord }
  | { kind: 'kill-requested'; id: string; worker: string; host: string }
  | { kind: 'not-found' }
  | { kind: 'already-done'; record: DoneRecord };

export async function cancelJob(lifecycle: Lifecycle, name: string, by: string): Promise<CancelResult> {
  const { store, layout } = lifecycle;
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
