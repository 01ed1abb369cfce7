/**
 * The monitor's actions on a job (SPEC §7), each allowed by the settings:
 * 1. cancel a queued job and kill a running one (`Licence_to_kill`), through
 *    core/actions, so the kill reaches whichever host runs the job;
 * 2. delete a queued job (folder removed, taken out of the queue) or a done
 *    one (its QM_dJobs / QM_lost+found folder and its record) (`Delete_Jobs`).
 * Each goes through the lifecycle (core/lifecycle.ts).
 */
import path from 'node:path';
import { cancelJob } from '../core/actions.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { WebSettings } from '../core/settings-types.js';
import type { JobView, ReadModel } from '../core/read-model.js';

export type ActionName = 'cancel' | 'kill' | 'delete';
export const ACTIONS: readonly ActionName[] = ['cancel', 'kill', 'delete'];

export function isAction(word: string): word is ActionName {
  return (ACTIONS as readonly string[]).includes(word);
}

/** What the page says on the button and the confirmation. */
export const ACTION_LABEL: Record<ActionName, string> = { cancel: 'Cancel', kill: 'Kill', delete: 'Delete' };

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
  if (!policy.web.licenceToKill) {
    return disabled(`${action === 'kill' ? 'killing' : 'cancelling'} jobs is disabled (Licence_to_kill = False)`);
  }
  if (action === 'kill' && view.state !== 'running') return conflict(`${view.name} is not running`);
  if (action === 'cancel' && view.state !== 'queued') return conflict(`${view.name} is not queued`);
  return undefined;
}

export function allowedActions(policy: ActionPolicy, view: JobView): ActionName[] {
  return ACTIONS.filter((a) => refusal(policy, a, view) === undefined);
}

/** `note`: which fixed notice the page shows next (see NOTES in context.ts). */
export type ActionResult =
  | { ok: true; message: string; note: 'kill-requested' | 'cancelled' | 'deleted' }
  | { ok: false; status: number; message: string };

export async function perform(
  lifecycle: Lifecycle,
  model: ReadModel,
  action: ActionName,
  view: JobView,
  by: string,
): Promise<ActionResult> {
  if (action === 'kill' && view.state === 'running') {
    await lifecycle.store.requestKill(view.id, by);
    return { ok: true, note: 'kill-requested', message: `kill requested from ${view.info.worker} on ${view.info.host}` };
  }
  if (action === 'cancel') {
    const result = await cancelJob(lifecycle, view.name, by);
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
