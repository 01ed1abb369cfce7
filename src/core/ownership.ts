/**
 * Who may act on a job (SPEC §10): its owner, or root. This is a courtesy
 * wall between honest users of one QM, not security: whoever reaches Redis
 * can do anything there; the folders' permissions are the real wall.
 * 1. the acting user: the process's own (CLI), or the monitor's user;
 * 2. the owner of a job in any state: the queued data, the running entry,
 *    the done record, else the owner of its folder;
 * 3. the one-line refusal when the actor is neither the owner nor root.
 */
import os from 'node:os';
import type { JobView, ReadModel } from './read-model.js';
import type { JobOwner } from './status.js';
import { ownerOf, userByName } from './users.js';

export interface Actor {
  user: string;
  uid: number;
}

/** The user this process runs as. */
export function processActor(): Actor {
  const me = os.userInfo();
  return { user: me.username, uid: me.uid };
}

/** The Unix user of that name when there is one, else this process's user (a monitor's basic-auth name). */
export async function actorNamed(name: string): Promise<Actor> {
  const user = name ? await userByName(name) : undefined;
  return user ? { user: user.name, uid: user.uid } : processActor();
}

/** The owner of the job shown by `view`; undefined when neither Redis nor its folder says. */
export async function ownerOfView(model: ReadModel, view: JobView): Promise<JobOwner | undefined> {
  const recorded = view.state === 'queued' ? view.job?.owner : view.state === 'running' ? view.info.owner : view.record.owner;
  if (recorded) return recorded;
  const folder = model.folderOf(view);
  return folder ? ownerOf(folder).catch(() => undefined) : undefined;
}

/** Why `actor` may not `action` the job (one line), or undefined when they may. */
export function refusal(actor: Actor, owner: JobOwner | undefined, name: string, action: string): string | undefined {
  if (actor.uid === 0 || !owner || owner.uid === actor.uid) return undefined;
  return `${name} belongs to ${owner.user}: only ${owner.user} or root may ${action} it (you are ${actor.user})`;
}

/** refusal() for the job of `view`. */
export async function refusalFor(model: ReadModel, actor: Actor, view: JobView, action: string): Promise<string | undefined> {
  if (actor.uid === 0) return undefined;
  return refusal(actor, await ownerOfView(model, view), view.name, action);
}
