/**
 * The monitor's actions on a job (SPEC §7), each allowed by the settings:
 * 1. cancel a queued job and kill a running one (`Licence_to_kill`), through
 *    core/actions, so the kill reaches whichever host runs the job;
 * 2. delete a queued job (folder removed, taken out of the queue) or a done
 *    one (its QM_dJobs / QM_lost+found folder and its record) (`Delete_Jobs`).
 * A deleted folder is first renamed to a hidden name in the same place (an
 * atomic step that wins or loses against a worker's claim), then removed.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { cancelJob, requestKill } from '../core/actions.js';
import type { WebSettings } from '../core/settings-types.js';
import type { JobMailer } from '../worker/mail.js';
import type { JobView, ReadModel } from './read-model.js';

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
  model: ReadModel,
  action: ActionName,
  view: JobView,
  by: string,
  mailer?: JobMailer,
): Promise<ActionResult> {
  const { store, layout } = model;
  if (action === 'kill' && view.state === 'running') {
    await requestKill(store, view.id, by);
    return { ok: true, note: 'kill-requested', message: `kill requested from ${view.info.worker} on ${view.info.host}` };
  }
  if (action === 'cancel') {
    const result = await cancelJob(store, layout, view.name, by);
    if (result.kind === 'cancelled') {
      mailer?.notify(result.record, result.job?.mailType ?? []);
      return { ok: true, note: 'cancelled', message: 'cancelled before it started' };
    }
    if (result.kind === 'kill-requested') return { ok: true, note: 'kill-requested', message: `had started: kill requested from ${result.worker}` };
    return { ok: false, status: 409, message: `${view.name} is no longer queued` };
  }
  if (view.state === 'queued') return deleteQueued(model, view.name);
  if (view.state === 'done') return deleteDone(model, view);
  return { ok: false, status: 409, message: `${view.name} is ${view.state}: ${action} is not possible now` };
}

async function deleteQueued(model: ReadModel, name: string): Promise<ActionResult> {
  const dir = model.layout.queued;
  const trash = path.join(dir, `.deleting-${randomBytes(4).toString('hex')}-${name}`);
  try {
    await fs.rename(path.join(dir, name), trash);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return { ok: false, status: 409, message: `${name} is no longer queued (it has started or was removed)` };
  }
  await model.store.dropQueued(name);
  await fs.rm(trash, { recursive: true, force: true });
  return { ok: true, note: 'deleted', message: 'deleted from QM_qJobs' };
}

async function deleteDone(model: ReadModel, view: JobView & { state: 'done' }): Promise<ActionResult> {
  const folder = model.folderOf(view);
  const parent = folder && path.dirname(folder);
  if (!folder || (parent !== model.layout.done && parent !== model.layout.lost)) {
    return { ok: false, status: 409, message: `${view.name}: its folder ${view.record.folder} is not in QM_dJobs or QM_lost+found` };
  }
  const trash = path.join(parent, `.deleting-${randomBytes(4).toString('hex')}-${path.basename(folder)}`);
  const moved = await fs.rename(folder, trash).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
  await model.store.forgetDone(view.record);
  await model.store.queue.remove(view.id).catch(() => undefined);
  if (moved) await fs.rm(trash, { recursive: true, force: true });
  return { ok: true, note: 'deleted', message: `deleted ${view.record.folder}` };
}
