/**
 * `qm submit PATH` (SPEC §6), like `sbatch`:
 * 1. stages a copy of the folder or script (the original itself with --move)
 *    under a hidden name in QM_qJobs, and writes the command-line options into
 *    the staged descriptor (submit-overrides.ts);
 * 2. checks it as ingest would (descriptor, `after` names) and refuses a name
 *    that is already queued or running; on any error nothing is left behind;
 * 3. renames it into place and queues it at once — the folder is known to be
 *    complete, so there is no settle_time to wait — and prints the job name;
 * 4. --wait: blocks until the job has ended and exits with its code.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Settings } from '../core/settings-types.js';
import { exists, isIgnoredName, type Layout } from '../core/folders.js';
import { readDescriptor, parseDuration } from '../core/descriptor.js';
import { DescriptorError } from '../core/descriptor-types.js';
import { readQueuedJob } from '../core/queued-job.js';
import { unknownDependencies } from '../core/dependencies.js';
import { describeOutcome, exitCodeOf, type DoneRecord } from '../core/status.js';
import { writeOverrides, type Overrides } from './submit-overrides.js';
import { BEGIN_FORMS, parseBeginTime } from '../core/begin-time.js';
import { withClient, type Client } from './client.js';
import { UserError } from './context.js';

export interface SubmitOptions {
  nbProc?: string;
  priority?: string;
  name?: string;
  after?: string[];
  time?: string;
  wait?: boolean;
  move?: boolean;
  hold?: boolean;
  begin?: string;
}

const WAIT_POLL_MS = 100;

/** Returns the exit code: 0, or the job's own with --wait. */
export async function submit(settings: Settings, source: string, opts: SubmitOptions): Promise<number> {
  const overrides = overridesOf(opts);
  if (opts.name !== undefined) checkName(opts.name);
  if (opts.wait && settings.server.keepDone === 0) {
    throw new UserError('--wait needs keep_done >= 1: the end of a job is read from its record');
  }
  const src = path.resolve(source);
  const kind = await sourceKind(src, source);
  return withClient(settings, async (client) => {
    refuseInsideQm(src, client.layout, source);
    const staged = await stage(src, kind, client.layout, opts.move ?? false, source);
    let placed: { name: string; id: string | undefined };
    try {
      placed = await place(client, staged, overrides, opts.name, source);
    } catch (err) {
      await staged.undo();
      throw err;
    }
    await staged.commit();
    process.stdout.write(`${placed.name}\n`);
    if (!opts.wait) return 0;
    if (!placed.id) throw new UserError(`${placed.name} is in QM_qJobs but could not be queued now: not waiting for it`);
    return waitForEnd(client, placed.name, placed.id);
  });
}

function overridesOf(opts: SubmitOptions): Overrides {
  const overrides: Overrides = {};
  if (opts.nbProc !== undefined) overrides.nb_proc = String(integerOption('--nb-proc', opts.nbProc, 1, 100_000));
  if (opts.priority !== undefined) overrides.priority = String(integerOption('--priority', opts.priority, -1_000_000, 1_000_000));
  if (opts.time !== undefined) overrides.time_limit = timeOption(opts.time);
  if (opts.after && opts.after.length > 0) {
    const names = opts.after.flatMap((a) => a.split(/[\s,]+/)).filter(Boolean);
    for (const name of names) checkName(name, '--after');
    overrides.after = names.join(',');
  }
  if (opts.hold) overrides.hold = '1';
  if (opts.begin !== undefined) {
    if (parseBeginTime(opts.begin) === undefined) throw new UserError(`--begin ${JSON.stringify(opts.begin)}: expected ${BEGIN_FORMS}`, 2);
    overrides.begin = opts.begin;
  }
  return overrides;
}

function integerOption(option: string, text: string, min: number, max: number): number {
  const value = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) throw new UserError(`${option} ${JSON.stringify(text)}: expected an integer from ${min} to ${max}`);
  return value;
}

/** sbatch's --time: a bare number is minutes; 0 or UNLIMITED removes the limit (''). */
function timeOption(text: string): string {
  if (/^(0+|unlimited|infinite)$/i.test(text.trim())) return '';
  try {
    return String(parseDuration(text, { bareUnit: 'min' }));
  } catch (err) {
    throw new UserError(`--time ${(err as Error).message}`);
  }
}

function checkName(name: string, label = '--name'): void {
  if (name === '' || name === '.' || name === '..' || /[/\0\n]/.test(name)) {
    throw new UserError(`${label} ${JSON.stringify(name)}: not a job name (a folder name, without "/")`);
  }
  if (isIgnoredName(name)) {
    throw new UserError(`${label} ${name}: QM ignores names starting with "." or ending with "~" or ".tmp"; choose another with --name`);
  }
}

async function sourceKind(src: string, source: string): Promise<'folder' | 'script'> {
  const stat = await fs.stat(src).catch(() => undefined);
  if (!stat) throw new UserError(`${source}: no such file or folder`);
  if (stat.isDirectory()) return 'folder';
  if (stat.isFile() && src.endsWith('.sh')) return 'script';
  throw new UserError(`${source}: not a job: expected a job folder or a *.sh script`);
}

function refuseInsideQm(src: string, layout: Layout, source: string): void {
  const inside = (dir: string, p: string) => {
    const rel = path.relative(dir, p);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  if (inside(layout.queued, src) || inside(layout.running, src)) {
    throw new UserError(`${source} is already in ${path.basename(inside(layout.queued, src) ? layout.queued : layout.running)}`);
  }
  if (inside(src, layout.root)) throw new UserError(`${source} contains the QM folder ${layout.root}`);
}

/** The job being submitted, under a hidden name in QM_qJobs until it is placed. */
interface Staged {
  dir: string;
  /** the job's name unless --name or #SBATCH -J says otherwise */
  base: string;
  /** descriptor file and its text before the options were written (put back on undo after --move) */
  patched?: { file: string; original: string };
  undo(): Promise<void>;
  /** the submission succeeded: a move across filesystems removes the original now */
  commit(): Promise<void>;
}

async function stage(src: string, kind: 'folder' | 'script', layout: Layout, move: boolean, source: string): Promise<Staged> {
  const dir = path.join(layout.queued, `.submit-${randomBytes(6).toString('hex')}`);
  const fileName = path.basename(src);
  const inside = kind === 'folder' ? dir : path.join(dir, fileName);
  if (kind === 'script') await fs.mkdir(dir);
  let renamed = false;
  try {
    // on another filesystem a move is a copy, and the original is removed once submitted
    if (move) renamed = await renameOnSameFilesystem(src, inside);
    if (!renamed && kind === 'folder') await fs.cp(src, dir, { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
    if (!renamed && kind === 'script') await fs.copyFile(src, inside);
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw new UserError(`cannot ${move ? 'move' : 'copy'} ${source} into ${layout.queued}: ${(err as Error).message}`);
  }
  const staged: Staged = {
    dir,
    base: kind === 'folder' ? fileName : fileName.slice(0, -'.sh'.length),
    async undo() {
      if (!renamed) return fs.rm(dir, { recursive: true, force: true });
      if (staged.patched) await fs.writeFile(staged.patched.file, staged.patched.original);
      await fs.rename(inside, src);
      if (kind === 'script') await fs.rmdir(dir);
    },
    async commit() {
      if (move && !renamed) await fs.rm(src, { recursive: true, force: true });
    },
  };
  return staged;
}

/** rename(2), or false when `to` is on another filesystem. */
async function renameOnSameFilesystem(from: string, to: string): Promise<boolean> {
  try {
    await fs.rename(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false;
    throw err;
  }
}

/** Options written, checks passed, renamed into QM_qJobs and queued. */
async function place(client: Client, staged: Staged, overrides: Overrides, givenName: string | undefined, source: string): Promise<{ name: string; id: string | undefined }> {
  const { store, layout, settings } = client;
  const jobFile = settings.server.jobFile;
  const descriptorError = (err: unknown) => {
    if (err instanceof DescriptorError) return new UserError(`${source}: ${err.message}`);
    return err;
  };
  const descriptor = await readDescriptor(staged.dir, jobFile).catch((err) => Promise.reject(descriptorError(err)));
  const descriptorFile = path.join(staged.dir, descriptor.file);
  const original = await writeOverrides(staged.dir, descriptor, overrides);
  if (original !== undefined) staged.patched = { file: descriptorFile, original };
  const read = await readQueuedJob(staged.dir, '', jobFile).catch((err) => Promise.reject(descriptorError(err)));
  for (const warning of read.warnings) process.stderr.write(`qm: warning: ${warning}\n`);
  const name = givenName ?? read.jobName ?? staged.base;
  checkName(name, givenName ? '--name' : read.jobName ? '#SBATCH -J' : 'job name');
  await refuseTaken(client, name);
  const unknown = await unknownDependencies(store, layout, read.job.after, name);
  if (unknown) throw new UserError(unknown);

  // queue order is submission order, as for a folder dropped now (and after a rebuild from the folders)
  const now = new Date();
  await fs.utimes(descriptorFile, now, now);
  const target = path.join(layout.queued, name);
  try {
    await fs.rename(staged.dir, target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw taken(name, 'queued');
    throw err;
  }
  // from here on the folder is queued: ingest would queue it if this process could not
  const job = { ...read.job, name, enqueuedAt: now.getTime(), descriptorMtime: now.getTime() };
  const id = await client.lifecycle.queue(job).then(
    async (newId) => newId ?? (await store.queuedId(name)),
    (err: Error) => {
      process.stderr.write(`qm: warning: ${name} is in QM_qJobs but not queued yet (${err.message}); QM will queue it\n`);
      return undefined;
    },
  );
  return { name, id };
}

async function refuseTaken(client: Client, name: string): Promise<void> {
  const { layout, store } = client;
  const queued = [path.join(layout.queued, name), path.join(layout.queued, `${name}.sh`)];
  if ((await Promise.all(queued.map(exists))).some(Boolean) || (await store.liveQueued([name])).size > 0) throw taken(name, 'queued');
  if ((await exists(path.join(layout.running, name))) || (await store.running()).some((r) => r.name === name)) {
    throw taken(name, 'running');
  }
}

function taken(name: string, state: string): UserError {
  return new UserError(`a job named ${name} is already ${state}: give this one another name with --name`);
}

/** Polls the job's done record; prints how it ended and returns its exit code. */
async function waitForEnd(client: Client, name: string, id: string): Promise<number> {
  const { store } = client;
  const since = Date.now();
  for (;;) {
    const record: DoneRecord | undefined =
      (await store.records([id]))[0] ??
      // the queue was rebuilt meanwhile (Redis wiped): the same job under a new id
      (await store.lastDone(name).then((r) => (r && r.endedAt >= since ? r : undefined)));
    if (record) {
      process.stdout.write(`${name} ended: ${describeOutcome(record.outcome)} → ${record.folder}\n`);
      return exitCodeOf(record.outcome);
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}
