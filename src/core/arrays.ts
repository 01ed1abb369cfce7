/**
 * A job array's life in the folders and the queue (SPEC §9). Each task
 * `NAME_i` is a job of its own; the array's folder stays in QM_qJobs/NAME as
 * the template until its last task has started or been cancelled.
 * 1. queue: the tasks not yet run (none with a QM_Jobs/NAME_i or a
 *    QM_dJobs/<ISO>-NAME_i folder of this array: after a wiped Redis only
 *    the missing ones are queued again), added in bulk, no folder made;
 * 2. claim: task i's folder QM_Jobs/NAME_i is made from the template (a copy
 *    under a hidden name, then the rename: the commit point);
 * 3. a task started or cancelled: counted; the last one takes the template
 *    out of QM_qJobs (removed, or to QM_dJobs when the last was cancelled);
 * 4. a queued task ended unrun (cancelled, its dependency failed): its record
 *    points at the array's folder, as it never had one of its own (where
 *    that folder went, once the last task has left the queue so).
 */
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomHex } from './random-hex.js';
import type { JobStore } from './jobstore.js';
import { newJobId } from './jobstore.js';
import { chownTree, exists, moveStamped, type Layout } from './folders.js';
import { arrayTasks, parseArraySpec, splitTaskName, taskName } from './job-array.js';
import { appendLine, cancelledLine } from './process-log.js';
import type { ArrayTask, DoneRecord, QueuedJob } from './status.js';
import { doneRecord } from './records.js';
import type { Held } from './lifecycle.js';
import { TASK_HOLD_MARK_PREFIX, isHoldMark } from './queued-job.js';

/** In a task's folder: its ArrayTask. */
export const TASK_MARK = '.qm-array-task.json';

/** The task a folder was made for, if it was. */
export function taskMarkOf(dir: string): Promise<ArrayTask | undefined> {
  return readJson<ArrayTask>(path.join(dir, TASK_MARK));
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** What Redis keeps of an array under its name. */
export interface ArrayInfo {
  name: string;
  id: string;
  /** the SPEC as written */
  spec: string;
  indices: number[];
}


/**
 * In an array's template: the array's id and spec, written when it is first
 * queued. A template read again (a restart, a wiped Redis) is the same array;
 * a new folder of the same name (the script submitted again) is a new one,
 * whose tasks run even where an earlier array's tasks of those names are done.
 */
export const ARRAY_MARK = '.qm-array.json';

/** Queues the tasks of the array whose template is `job`; the array's id. */
export async function queueArray(store: JobStore, layout: Layout, job: QueuedJob): Promise<string> {
  const spec = parseArraySpec(job.keys.array!);
  const template = path.join(layout.queued, job.name);
  const marked = await readJson<{ id: string; spec: string }>(path.join(template, ARRAY_MARK));
  // queued before (a restart, a wiped Redis): what ran, what Redis still has and the tasks' holds count; a new array has none
  const again = marked?.spec === spec.text;
  const id = again ? marked.id : newJobId();
  if (!again) await fs.writeFile(path.join(template, ARRAY_MARK), JSON.stringify({ id, spec: spec.text }));
  const all = arrayTasks(job.name, id, spec);
  const names = all.map((a) => taskName(job.name, a.index));
  const none = new Set<never>();
  const [ran, queued, heldTasks] = again
    ? await Promise.all([
        tasksWithFolders(layout, job.name, id),
        store.arrayInfo(job.name).then((info) => (info?.id === id ? store.liveQueued(names) : none)),
        taskHolds(template),
      ])
    : [none, none, none];
  const tasks = all
    .map((array, i) => ({ ...job, name: names[i]!, array, ...(heldTasks.has(array.index) && { held: true }) }))
    .filter((task) => !ran.has(task.name) && !queued.has(task.name));
  await store.enqueueTasks({ name: job.name, id, spec: spec.text, indices: spec.indices }, tasks, tasks.length + queued.size);
  if (tasks.length === 0 && queued.size === 0) await removeTemplate(store, layout, job.name, id, undefined);
  return id;
}

/** The indices of the tasks held one by one (`qm hold NAME_i`: a mark in the array's folder). */
async function taskHolds(template: string): Promise<Set<number>> {
  const entries = await fs.readdir(template).catch(() => [] as string[]);
  return new Set(entries.filter((e) => e.startsWith(TASK_HOLD_MARK_PREFIX)).map((e) => Number(e.slice(TASK_HOLD_MARK_PREFIX.length))));
}

/** Names of the tasks of array `id` that have (or had) a folder of their own: running, done, or put back in QM_qJobs. */
async function tasksWithFolders(layout: Layout, array: string, id: string): Promise<Set<string>> {
  const read = (dir: string) => fs.readdir(dir).catch(() => [] as string[]);
  const [running, done, queued] = await Promise.all([read(layout.running), read(layout.done), read(layout.queued)]);
  const candidates: Array<[folder: string, task: string]> = [];
  for (const [dir, entries] of [[layout.running, running], [layout.queued, queued]] as const) {
    for (const entry of entries) if (splitTaskName(entry)?.array === array) candidates.push([path.join(dir, entry), entry]);
  }
  for (const entry of done) {
    // <ISO-seconds>[-K]-NAME_i
    const m = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:-\d+)?-(.+)$/.exec(entry);
    if (m && splitTaskName(m[1]!)?.array === array) candidates.push([path.join(layout.done, entry), m[1]!]);
  }
  // an earlier array of the same name left folders of the same names: the task mark tells them apart
  const marks = await Promise.all(candidates.map(([folder]) => taskMarkOf(folder)));
  return new Set(candidates.filter((_, i) => marks[i]?.id === id).map(([, task]) => task));
}

export type TaskClaim = 'claimed' | 'busy' | 'gone';

/** Task `job`'s folder QM_Jobs/NAME_i, made from the template; a task put back in QM_qJobs is renamed as any job. */
export async function claimTask(store: JobStore, layout: Layout, job: QueuedJob, id: string): Promise<TaskClaim> {
  const array = job.array!;
  const target = path.join(layout.running, job.name);
  const putBack = path.join(layout.queued, job.name);
  if (await exists(putBack)) return renameInto(putBack, target, async () => undefined);
  if (await store.isDone(id)) return 'gone';
  const staging = path.join(layout.running, `.task-${randomHex(4)}-${job.name}`);
  try {
    await copyTemplate(path.join(layout.queued, array.name), staging);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  // a task's folder says it is one: put back in QM_qJobs and read again (a wiped Redis), it is this task, not a new array
  await fs.writeFile(path.join(staging, TASK_MARK), JSON.stringify(array));
  const claimed = await renameInto(staging, target, () => fs.rm(staging, { recursive: true, force: true }));
  if (claimed === 'claimed') await taskLeftQueue(store, layout, array.name, array.id, undefined);
  return claimed;
}

/**
 * A copy of the array's folder, its owner's as the folder is (a root worker
 * runs the task as that user, in it). Most are a descriptor and a script:
 * their files are copied one by one (fs.cp's general walk costs several
 * times the system calls); a folder with anything else (subfolders, links)
 * is copied by fs.cp, links as they are.
 */
async function copyTemplate(from: string, to: string): Promise<void> {
  const [all, folder] = await Promise.all([fs.readdir(from, { withFileTypes: true }), fs.stat(from)]);
  // the array's own marks stay with it (its id, its holds)
  const entries = all.filter((e) => !isArrayMark(e.name));
  if (entries.every((e) => e.isFile())) {
    await fs.mkdir(to);
    // copyFile keeps each file's mode (an executable script stays one)
    await Promise.all(entries.map((e) => fs.copyFile(path.join(from, e.name), path.join(to, e.name), fsConstants.COPYFILE_EXCL)));
    await fs.chmod(to, folder.mode & 0o7777);
  } else {
    await fs.cp(from, to, { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false, filter: (src) => path.dirname(src) !== from || !isArrayMark(path.basename(src)) });
  }
  if (process.getuid?.() === 0 && folder.uid !== 0) await chownTree(to, folder.uid, folder.gid);
}

function isArrayMark(name: string): boolean {
  return name === ARRAY_MARK || isHoldMark(name);
}

async function renameInto(from: string, to: string, undo: () => Promise<void>): Promise<TaskClaim> {
  try {
    await fs.rename(from, to);
    return 'claimed';
  } catch (err) {
    await undo();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return 'busy';
    if (code === 'ENOENT') return 'gone';
    throw err;
  }
}

/**
 * A task of array `name` started, or was cancelled (`cancelledBy`): the last
 * one takes the template out of QM_qJobs.
 */
export async function taskLeftQueue(store: JobStore, layout: Layout, name: string, id: string, cancelledBy: string | undefined): Promise<void> {
  if ((await store.taskLeftQueue(id)) <= 0) await removeTemplate(store, layout, name, id, cancelledBy);
}

/** The template leaves QM_qJobs: to QM_dJobs with the cancel line when the last task was cancelled, else removed. */
async function removeTemplate(store: JobStore, layout: Layout, name: string, id: string, cancelledBy: string | undefined): Promise<void> {
  const template = path.join(layout.queued, name);
  if (cancelledBy) {
    const now = new Date();
    // no task is copied from the template any more: the line goes in first, so it is never seen in QM_dJobs without it
    if (await appendLine(template, cancelledLine(cancelledBy, now)).then(() => true, () => false)) {
      const moved = await moveStamped(template, layout.done, name, now).catch(() => undefined);
      const info = await store.arrayInfo(name);
      if (moved && info?.id === id) {
        const rel = (folder: string) => path.relative(layout.root, folder);
        await store.repointRecords(info.indices.map((i) => taskName(name, i)), id, rel(template), rel(moved));
      }
    }
  } else {
    const trash = path.join(layout.queued, `.array-done-${randomHex(4)}-${name}`);
    if (await fs.rename(template, trash).then(() => true, () => false)) await fs.rm(trash, { recursive: true, force: true });
  }
  await store.forgetArrayCount(name, id);
  await store.wakeDependents(name);
}

/** What ending a task unrun needs: the lifecycle's last step (record, acknowledgement, mail). */
export interface TaskEnds {
  store: JobStore;
  layout: Layout;
  ended(record: DoneRecord, held: Held, mailType: string[]): Promise<void>;
}

/** Cancels queued task `name`: taken from the queue first, so a worker's pick cannot start it meanwhile. */
export async function cancelTask(ends: TaskEnds, name: string, by: string, lockMs: number): Promise<DoneRecord | undefined> {
  const { store, layout } = ends;
  const id = await store.queuedId(name);
  const token = `cancel:${randomHex(6)}`;
  const job = id ? await store.takeQueued(id, token, lockMs) : undefined;
  const array = job?.data.array;
  if (!job || !array) return undefined;
  const record = doneRecord({
    id: id!,
    name,
    job: job.data,
    endedAt: Date.now(),
    folder: path.relative(layout.root, path.join(layout.queued, array.name)),
    outcome: { kind: 'cancelled', by },
  });
  await ends.ended(record, { job, token }, job.data.mailType);
  await taskLeftQueue(store, layout, array.name, array.id, by);
  return record;
}

/** A queued task whose dependency failed. */
export async function taskNotRun(ends: TaskEnds, held: Held, dependency: string, why: string, now: Date): Promise<DoneRecord> {
  const { store, layout } = ends;
  const data = held.job.data;
  const array = data.array!;
  const record = doneRecord({
    id: held.job.id!,
    name: data.name,
    job: data,
    endedAt: now.getTime(),
    folder: path.relative(layout.root, path.join(layout.queued, array.name)),
    outcome: { kind: 'dependencyFailed', dependency },
  });
  await ends.ended(record, held, data.mailType);
  await taskLeftQueue(store, layout, array.name, array.id, `dependency failed: ${dependency} ${why}`);
  return record;
}
