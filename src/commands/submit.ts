/**
 * `qm submit PATH [ARG...]` (SPEC §6, §9), like `sbatch`:
 * 1. stages a copy of the folder or script (the original itself with --move;
 *    `--wrap CMD`: a script made of CMD) under a hidden name in QM_qJobs, and
 *    writes the command-line options, the script's arguments and where it was
 *    submitted into the staged descriptor (submit-overrides.ts);
 * 2. checks it as ingest would (descriptor, dependencies); a name already
 *    queued or running gets the first free NAME-2, NAME-3...; on any error
 *    nothing is left behind;
 * 3. renames it into place and queues it at once — the folder is known to be
 *    complete, so there is no settle_time to wait — and prints the job name
 *    (and its QM: notices on stderr);
 * 4. --wait: blocks until the job (every task of an array) has ended and
 *    exits with its code (the worst of the tasks').
 * Its own file operations are synchronous: the command has nothing else to
 * do meanwhile, and each asynchronous one was a round trip through libuv's
 * thread pool.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomHex } from '../core/random-hex.js';
import type { Settings } from '../core/settings-types.js';
import { isIgnoredName, type Layout } from '../core/folders.js';
import { readDescriptor, parseDuration } from '../core/descriptor.js';
import { DescriptorError } from '../core/descriptor-types.js';
import { readQueuedJob } from '../core/queued-job.js';
import { unknownDependencies } from '../core/dependencies.js';
import { MEMORY_FORM, neverHeld, parseMemoryMb } from '../core/resources.js';
import { parseArraySpec } from '../core/job-array.js';
import { parseDependency } from '../core/dependencies.js';
import { writeOverrides, type Overrides } from './submit-overrides.js';
import { BEGIN_FORMS, parseBeginTime } from '../core/begin-time.js';
import { withStore, type StoreClient } from './store-client.js';
import { queueJob } from '../core/queue-job.js';
import { UserError } from './context.js';

export interface SubmitOptions {
  nbProc?: string;
  ntasks?: string;
  gpus?: string;
  mem?: string;
  priority?: string;
  name?: string;
  after?: string[];
  time?: string;
  wait?: boolean;
  move?: boolean;
  dependency?: string[];
  array?: string;
  wrap?: string;
  /** the script's arguments */
  args?: string[];
  hold?: boolean;
  begin?: string;
}

/** Names tried after a taken one: NAME-2 ... NAME-1000. */
const MAX_NAME_SUFFIX = 1000;


/** Returns the exit code: 0, or the job's own with --wait. `-`: a tar stream on stdin (submit-stdin.ts). */
export async function submit(settings: Settings, source: string | undefined, opts: SubmitOptions): Promise<number> {
  if (source === '-') {
    const { submitFromStdin } = await import('./submit-stdin.js');
    return submitFromStdin(settings, (entry) => submit(settings, entry, { ...opts, move: true }));
  }
  const overrides = overridesOf(opts);
  if (opts.name !== undefined) checkName(opts.name);
  if (opts.wait && settings.server.keepDone === 0) {
    throw new UserError('--wait needs keep_done >= 1: the end of a job is read from its record');
  }
  if (opts.wrap !== undefined && source !== undefined) throw new UserError('--wrap makes the script: give no PATH with it');
  if (opts.wrap === undefined && source === undefined) throw new UserError('nothing to submit: give a job folder, a script, or --wrap "COMMAND"');
  const wrapped = opts.wrap !== undefined ? wrapScript(opts.wrap) : undefined;
  const src = wrapped ?? path.resolve(source!);
  const shown = source ?? '--wrap';
  const kind = sourceKind(src, shown);
  if (kind === 'folder' && (opts.args ?? []).length > 0) throw new UserError(`${shown}: arguments are passed to a script, not to a job folder`);
  return withStore(settings, async (client) => {
    refuseInsideQm(src, client.layout, shown);
    let staged: Staged;
    try {
      staged = stage(src, kind, client.layout, (opts.move ?? false) && !wrapped, shown);
    } finally {
      if (wrapped) fs.rmSync(path.dirname(wrapped), { recursive: true, force: true });
    }
    let placed: { name: string; id: string | undefined };
    try {
      placed = await place(client, staged, overrides, opts.name, shown);
    } catch (err) {
      staged.undo();
      throw err;
    }
    staged.commit();
    process.stdout.write(`${placed.name}\n`);
    if (!opts.wait) return 0;
    if (!placed.id) throw new UserError(`${placed.name} is in QM_qJobs but could not be queued now: not waiting for it`);
    const { waitForArray, waitForEnd } = await import('./submit-wait.js');
    const array = await client.store.arrayInfo(placed.name);
    if (array?.id === placed.id) return waitForArray(client, placed.name, placed.id, array.indices);
    return waitForEnd(client, placed.name, placed.id);
  });
}

/** sbatch --wrap: a `#!/bin/sh` script of the command, in a folder of its own (removed once staged). */
function wrapScript(command: string): string {
  if (command.trim() === '') throw new UserError('--wrap: the command is empty');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qm-wrap-'));
  const file = path.join(dir, 'wrap.sh');
  fs.writeFileSync(file, `#!/bin/sh\n# made by qm submit --wrap\n${command}\n`, { mode: 0o755 });
  return file;
}

function overridesOf(opts: SubmitOptions): Overrides {
  const overrides: Overrides = {};
  if (opts.nbProc !== undefined) overrides.nb_proc = String(integerOption('--nb-proc', opts.nbProc, 1, 100_000));
  if (opts.ntasks !== undefined) overrides.ntasks = String(integerOption('-n/--ntasks', opts.ntasks, 1, 100_000));
  if (opts.gpus !== undefined) overrides.nb_gpu = String(integerOption('--gpus', opts.gpus, 0, 1024));
  if (opts.mem !== undefined) overrides.memory = memoryOption(opts.mem);
  if (opts.priority !== undefined) overrides.priority = String(integerOption('--priority', opts.priority, -1_000_000, 1_000_000));
  if (opts.time !== undefined) overrides.time_limit = timeOption(opts.time);
  // -d takes names (afterok) as QM always did, or a Slurm expression as sbatch -d does
  const expressions = [...(opts.dependency ?? []), ...(opts.after ?? []).filter((a) => a.includes(':') || a.trim() === 'singleton')];
  const plain = (opts.after ?? []).filter((a) => !expressions.includes(a));
  if (plain.length > 0) {
    const names = plain.flatMap((a) => a.split(/[\s,]+/)).filter(Boolean);
    for (const name of names) checkName(name, '--after');
    overrides.after = names.join(',');
  }
  if (expressions.length > 0) {
    const expression = expressions.join(',');
    try {
      parseDependency(expression);
    } catch (err) {
      throw new UserError(`--dependency ${(err as Error).message}`);
    }
    overrides.dependency = expression;
  }
  if (opts.array !== undefined) {
    try {
      overrides.array = parseArraySpec(opts.array).text;
    } catch (err) {
      throw new UserError(`--array ${(err as Error).message}`);
    }
  }
  if (opts.args && opts.args.length > 0) overrides.args = JSON.stringify(opts.args);
  overrides.submit_dir = process.cwd();
  overrides.submit_host = os.hostname();
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

function memoryOption(text: string): string {
  const mb = parseMemoryMb(text);
  if (mb === undefined) throw new UserError(`--mem ${JSON.stringify(text)}: expected ${MEMORY_FORM}`);
  return `${mb}M`;
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

function sourceKind(src: string, source: string): 'folder' | 'script' {
  const stat = fs.statSync(src, { throwIfNoEntry: false });
  if (!stat) throw new UserError(`${source}: no such file or folder`);
  if (stat.isDirectory()) return 'folder';
  if (stat.isFile()) return 'script';
  throw new UserError(`${source}: not a job: expected a job folder or a script`);
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
  undo(): void;
  /** the submission succeeded: a move across filesystems removes the original now */
  commit(): void;
}

function stage(src: string, kind: 'folder' | 'script', layout: Layout, move: boolean, source: string): Staged {
  const dir = path.join(layout.queued, `.submit-${randomHex(6)}`);
  // a script is found in its folder by its .sh ending: `job.py` is staged as `job.sh` (it runs by its #! line)
  const base = kind === 'folder' ? path.basename(src) : path.basename(src).replace(/\.[^.]*$/, '') || path.basename(src);
  const fileName = kind === 'folder' || src.endsWith('.sh') ? path.basename(src) : `${base}.sh`;
  const inside = kind === 'folder' ? dir : path.join(dir, fileName);
  if (kind === 'script') fs.mkdirSync(dir);
  let renamed = false;
  try {
    // on another filesystem a move is a copy, and the original is removed once submitted
    if (move) renamed = renameOnSameFilesystem(src, inside);
    if (!renamed && kind === 'folder') fs.cpSync(src, dir, { recursive: true, verbatimSymlinks: true, errorOnExist: true, force: false });
    if (!renamed && kind === 'script') fs.copyFileSync(src, inside);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new UserError(`cannot ${move ? 'move' : 'copy'} ${source} into ${layout.queued}: ${(err as Error).message}`);
  }
  const staged: Staged = {
    dir,
    base,
    undo() {
      if (!renamed) return fs.rmSync(dir, { recursive: true, force: true });
      if (staged.patched) fs.writeFileSync(staged.patched.file, staged.patched.original);
      fs.renameSync(inside, src);
      if (kind === 'script') fs.rmdirSync(dir);
    },
    commit() {
      if (move && !renamed) fs.rmSync(src, { recursive: true, force: true });
    },
  };
  return staged;
}

/** rename(2), or false when `to` is on another filesystem. */
function renameOnSameFilesystem(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EXDEV') return false;
    throw err;
  }
}

/** Options written, checks passed, renamed into QM_qJobs and queued. */
async function place(client: StoreClient, staged: Staged, overrides: Overrides, givenName: string | undefined, source: string): Promise<{ name: string; id: string | undefined }> {
  const { store, settings } = client;
  const jobFile = settings.server.jobFile;
  const descriptorError = (err: unknown) => {
    if (err instanceof DescriptorError) return new UserError(`${source}: ${err.message}`);
    return err;
  };
  const descriptor = await readDescriptor(staged.dir, jobFile, { mailActive: settings.server.mailActive }).catch((err) => Promise.reject(descriptorError(err)));
  const descriptorFile = path.join(staged.dir, descriptor.file);
  const original = writeOverrides(staged.dir, descriptor, overrides);
  if (original !== undefined) staged.patched = { file: descriptorFile, original };
  const read = await readQueuedJob(staged.dir, '', jobFile, Date.now(), { mailActive: settings.server.mailActive }).catch((err) => Promise.reject(descriptorError(err)));
  for (const warning of read.warnings) process.stderr.write(`qm: warning: ${warning}\n`);
  for (const notice of read.job.notices ?? []) process.stderr.write(`QM: ${notice}\n`);
  const wanted = givenName ?? read.jobName ?? staged.base;
  checkName(wanted, givenName ? '--name' : read.jobName ? '#SBATCH -J' : 'job name');
  // queue order is submission order, as for a folder dropped now (and after a rebuild from the folders)
  const now = new Date();
  fs.utimesSync(descriptorFile, now, now);
  const name = await placeUnderFreeName(client, staged.dir, wanted, read.job);
  // from here on the folder is queued: ingest would queue it if this process could not
  const job = { ...read.job, name, enqueuedAt: now.getTime(), descriptorMtime: now.getTime() };
  // read meanwhile, for the warning below
  const workers = store.liveWorkers();
  workers.catch(() => undefined);
  const id = await queueJob(store, client.layout, job).then(
    async (newId) => newId ?? (await store.queuedId(name)),
    (err: Error) => {
      process.stderr.write(`qm: warning: ${name} is in QM_qJobs but not queued yet (${err.message}); QM will queue it\n`);
      return undefined;
    },
  );
  // queued all the same (a worker that can hold it may join), as squeue would show it pending
  const never = neverHeld(job, await workers);
  if (never) process.stderr.write(`qm: warning: ${name} waits: it ${never}\n`);
  return { name, id };
}

/**
 * Renames the staged folder to QM_qJobs/NAME, or NAME-2, NAME-3... when NAME
 * is queued or running (the rename itself settles a race between two
 * submissions); checks the dependencies under the name given. Returns it.
 */
async function placeUnderFreeName(client: StoreClient, dir: string, wanted: string, job: Parameters<typeof unknownDependencies>[2]): Promise<string> {
  const { layout, store } = client;
  for (let k = 1; k <= MAX_NAME_SUFFIX; k++) {
    const name = k === 1 ? wanted : `${wanted}-${k}`;
    if (await isTaken(client, name)) continue;
    const unknown = await unknownDependencies(store, layout, job, name);
    if (unknown) throw new UserError(unknown);
    try {
      fs.renameSync(dir, path.join(layout.queued, name));
      return name;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  }
  throw new UserError(`${wanted} and ${wanted}-2 ... ${wanted}-${MAX_NAME_SUFFIX} are all queued or running: give this job another name with --name`);
}

/** Is a job (or an array) of this name queued or running? */
async function isTaken(client: StoreClient, name: string): Promise<boolean> {
  const { layout, store } = client;
  const folders = [path.join(layout.queued, name), path.join(layout.queued, `${name}.sh`), path.join(layout.running, name)];
  if (folders.some(present)) return true;
  const [queued, running] = await Promise.all([store.liveQueued([name]), store.running()]);
  return queued.size > 0 || running.some((r) => r.name === name || r.array?.name === name);
}

/** Is there anything at `p` (a broken symbolic link too)? folders.ts's exists, synchronous. */
function present(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
