/**
 * Who a job runs as (SPEC §8): a worker running as root runs each job as the
 * owner of its folder, as slurmd runs a job as its submitter:
 * 1. the owner recorded when it was queued (else the folder's, now);
 * 2. its uid, its groups as initgroups(3) gives them (core/users.ts), the
 *    folder's group as the job's group when the owner is in it (else the
 *    owner's own); HOME, USER and LOGNAME from the user database;
 * 3. a folder owned by root runs as root; a worker not running as root runs
 *    every job as itself (undefined).
 */
import path from 'node:path';
import { groupsOf, ownerOf, userByUid } from '../core/users.js';
import type { QueuedJob } from '../core/status.js';
import type { RunAs } from './runner.js';

export type JobUser = RunAs & { name: string; env: Record<string, string> };

export async function jobUser(job: QueuedJob, folder: string): Promise<JobUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const owner = job.owner ?? (await ownerOf(folder));
  if (owner.uid === 0) return undefined;
  const user = await userByUid(owner.uid);
  const groups = user ? await groupsOf(user) : [owner.gid];
  const gid = groups.includes(owner.gid) ? owner.gid : (user?.gid ?? owner.gid);
  const name = user?.name ?? String(owner.uid);
  return {
    uid: owner.uid,
    gid,
    groups,
    name,
    env: { USER: name, LOGNAME: name, HOME: user?.home || path.parse(folder).root },
  };
}
