/**
 * The monitor's actions on a job (SPEC §7, §10), each allowed by the settings:
 * 1. cancel a queued job and kill a running one (`Licence_to_kill`), through
 *    core/actions, so the kill reaches whichever host runs the job;
 * 2. hold and release a queued job, requeue a done one (`Licence_to_kill`:
 *    they change what runs), through core/operations.ts;
 * 3. delete a queued job (folder removed, taken out of the queue) or a done
 *    one (its QM_dJobs / QM_lost+found folder and its record) (`Delete_Jobs`).
 * Cancel, kill, hold, release and requeue are refused, in one line, on
 * another user's job (root: any). Each goes through the lifecycle.
 */
import path from 'node:path';
import type { Operations } from '../core/operations.js';
import { refusalFor, type Actor } from '../core/ownership.js';
import type { WebSettings } from '../core/settings-types.js';
import type { JobView } from '../core/read-model.js';

export type ActionName = 'cancel' | 'kill' | 'hold' | 'release' | 'requeue' | 'delete';
export const ACTIONS: readonly ActionName[] = ['cancel', 'kill', 'hold', 'release', 'requeue', 'delete'];

export function isAction(word: string): word is ActionName {
  return (ACTIONS as readonly string[]).includes(word);
}

/** What the page says on the button and the confirmation. */
export const ACTION_LABEL: Record<ActionName, string> = {
  cancel: 'Cancel', kill: 'Kill', hold: 'Hold', release: 'Release', requeue: 'Requeue', delete: 'Delete',
};

export interface ActionPolicy {
  web: WebSettings;
  /** set when actions are off whatever the settings say (see auth.ts) */
  offReason: string | undefined;
}

export interface Refusal {
  /** 403: disabled by the settings; 409: not possible in the job's state */
  status: 403 | 409;
  message: string;
}

/** Why `action` cannot be done on `view`, or undefined when it can. */
export function refusal(policy: ActionPolicy, action: ActionName, view: JobView): Refusal | undefined {
  const disabled = (message: string): Refusal => ({ status: 403, message });
  const conflict = (message: string): Refusal => ({ status: 409, message });
  if (policy.offReason) return disabled(`actions are disabled: ${policy.offReason}`);
  if (action === 'delete') {
    if (!policy.web.deleteJobs) return disabled('deleting jobs is disabled (Delete_Jobs = False)');
    return view.state === 'running' ? conflict(`${view.name} is running: kill it before deleting it`) : undefined;
  }
  if (!policy.web.licenceToKill) return disabled(`${action} is disabled (Licence_to_kill = False)`);
  if (action === 'kill' && view.state !== 'running') return conflict(`${view.name} is not running`);
  if (action === 'cancel' && view.state !== 'queued') return conflict(`${view.name} is not queued`);
  if (action === 'requeue' && view.state !== 'done') return conflict(`${view.name} has not finished`);
  const phase = view.state === 'queued' && view.job ? view.phase : undefined;
  if (action === 'hold' && !(phase === 'queued' || phase === 'after' || phase === 'begin')) return conflict(`${view.name} is not waiting in the queue`);
  if (action === 'release' && phase !== 'held') return conflict(`${view.name} is not held`);
  return undefined;
}

export function allowedActions(policy: ActionPolicy, view: JobView): ActionName[] {
  return ACTIONS.filter((a) => refusal(policy, a, view) === undefined);
}

/** `note`: which fixed notice the page shows next (see NOTES in context.ts). */
export type ActionResult =
  | { ok: true; message: string; note: 'kill-requested' | 'cancelled' | 'deleted' | 'held' | 'released' | 'requeued' }
  | { ok: false; status: number; message: string };

export async function perform(ops: Operations, action: ActionName, view: JobView, actor: Actor, by: string): Promise<ActionResult> {
  const { lifecycle, model } = ops;
  if (action !== 'delete') {
    const no = await refusalFor(model, actor, view, action);
    if (no) return { ok: false, status: 403, message: no };
  }
  if (action === 'hold' || action === 'release' || action === 'requeue') {
    const result = action === 'requeue' ? await ops.requeue(view.name, actor, view.id) : await ops[action](view.name, actor);
    if (!result.ok) return { ok: false, status: 409, message: result.message };
    return { ok: true, note: action === 'hold' ? 'held' : action === 'release' ? 'released' : 'requeued', message: result.message };
  }
  if (action === 'kill' && view.state === 'running') {
    await lifecycle.store.requestKill(view.id, by);
    return { ok: true, note: 'kill-requested', message: `kill requested from ${view.info.worker} on ${view.info.host}` };
  }
  if (action === 'cancel') {
    const result = await ops.cancel(view.name, actor, by);
    if (result.kind === 'refused') return { ok: false, status: 403, message: result.message };
    if (result.kind === 'cancelled') return { ok: true, note: 'cancelled', message: 'cancelled before it started' };
    if (result.kind === 'kill-requested') return { ok: true, note: 'kill-requested', message: `had started: kill requested from ${result.worker}` };
    return { ok: false, status: 409, message: `${view.name} is no longer queued` };
  }
  if (view.state === 'queued') {
    if (!(await lifecycle.deleteQueued(view.name))) {
      return { ok: false, status: 409, message: `${view.name} is no longer queued (it has started or was removed)` };
    }
    return { ok: true, note: 'deleted', message: 'deleted from QM_qJobs' };
  }
  if (view.state === 'done') {
    const folder = model.folderOf(view);
    const parent = folder && path.dirname(folder);
    if (!folder || (parent !== model.layout.done && parent !== model.layout.lost)) {
      return { ok: false, status: 409, message: `${view.name}: its folder ${view.record.folder} is not in QM_dJobs or QM_lost+found` };
    }
    await lifecycle.deleteDone(view.record, folder);
    return { ok: true, note: 'deleted', message: `deleted ${view.record.folder}` };
  }
  return { ok: false, status: 409, message: `${view.name} is ${view.state}: ${action} is not possible now` };
}
