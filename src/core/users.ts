/**
 * Unix users, by uid and by name (SPEC §8, §10): the owner of a job folder,
 * who a root worker runs a job as, who may act on a job.
 * 1. reads /etc/passwd and /etc/group (once a minute at most);
 * 2. asks `getent` for what they do not hold (LDAP, sssd users of a cluster);
 * 3. a uid no database names is shown as its number, as `ls -l` does.
 */
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import type { JobOwner } from './status.js';

/** Runs getent or id; node:child_process is loaded only then (most lookups need neither; `qm submit` starts faster). */
async function run(file: string, args: string[], opts: { timeout: number }): Promise<{ stdout: string }> {
  const { execFile } = await import('node:child_process');
  return promisify(execFile)(file, args, opts);
}

export interface UnixUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

const REREAD_MS = 60_000;

interface Databases {
  readAt: number;
  byUid: Map<number, UnixUser>;
  byName: Map<string, UnixUser>;
  /** group name and gid by member name (secondary groups) */
  groupsOf: Map<string, number[]>;
}

let cached: Databases | undefined;

function passwdEntry(line: string): UnixUser | undefined {
  const f = line.split(':');
  if (f.length < 7 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) return undefined;
  return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]!, shell: f[6]! };
}

async function databases(): Promise<Databases> {
  if (cached && Date.now() - cached.readAt < REREAD_MS) return cached;
  const read = (file: string) => fs.readFile(file, 'utf8').catch(() => '');
  const [passwd, group] = await Promise.all([read('/etc/passwd'), read('/etc/group')]);
  const byUid = new Map<number, UnixUser>();
  const byName = new Map<string, UnixUser>();
  for (const line of passwd.split('\n')) {
    const user = passwdEntry(line);
    if (!user) continue;
    if (!byUid.has(user.uid)) byUid.set(user.uid, user);
    byName.set(user.name, user);
  }
  const groupsOf = new Map<string, number[]>();
  for (const line of group.split('\n')) {
    const [, , gid, members] = line.split(':');
    if (!gid || !/^\d+$/.test(gid) || !members) continue;
    for (const member of members.split(',').filter(Boolean)) groupsOf.set(member, [...(groupsOf.get(member) ?? []), Number(gid)]);
  }
  cached = { readAt: Date.now(), byUid, byName, groupsOf };
  return cached;
}

async function getent(db: 'passwd', key: string): Promise<UnixUser | undefined> {
  const out = await run('getent', [db, key], { timeout: 5_000 }).catch(() => undefined);
  return out ? passwdEntry(out.stdout.trim().split('\n')[0] ?? '') : undefined;
}

/** The user of uid `uid`, or undefined when no user database names it. */
export async function userByUid(uid: number): Promise<UnixUser | undefined> {
  return (await databases()).byUid.get(uid) ?? getent('passwd', String(uid));
}

/** The user called `name`, or undefined. */
export async function userByName(name: string): Promise<UnixUser | undefined> {
  return (await databases()).byName.get(name) ?? getent('passwd', name);
}

/** The supplementary groups of `user` (its primary group first), as initgroups(3) would set them. */
export async function groupsOf(user: UnixUser): Promise<number[]> {
  const out = await run('id', ['-G', user.name], { timeout: 5_000 }).catch(() => undefined);
  const listed = out?.stdout.trim().split(/\s+/).filter((g) => /^\d+$/.test(g)).map(Number);
  if (listed && listed.length > 0) return listed;
  return [user.gid, ...((await databases()).groupsOf.get(user.name) ?? []).filter((g) => g !== user.gid)];
}

/** The owner of a file or folder: its uid and gid, named by the user database (the uid's digits when unnamed). */
export async function ownerOf(file: string): Promise<JobOwner> {
  return ownerOfStat(await fs.stat(file));
}

/** What ownerOf needs of a stat. */
export type OwnerStat = { uid: number; gid: number };

/** The owner a stat of the file names. */
export async function ownerOfStat(st: OwnerStat): Promise<JobOwner> {
  const user = await userByUid(st.uid);
  return { user: user?.name ?? String(st.uid), uid: st.uid, gid: st.gid };
}
