/**
 * `qm logs NAME [-f] [-n N]` (SPEC §6, §10): prints a job's process.log — the running
 * job's, else the latest finished one's (QM_dJobs or QM_lost+found); `-n`:
 * its last N lines only.
 * `-f` follows it until the job ends, waiting for a queued job to start.
 * Reads the folders only: it works while QM is stopped too.
 * Following survives the move to QM_dJobs: the open file moves with its
 * folder, and the footer is written before the move.
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import type { Settings } from '../core/settings-types.js';
import { exists, layoutOf, stampedEntries, type Layout } from '../core/folders.js';
import { UserError } from './context.js';

const POLL_MS = 200;
const LOG = 'process.log';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes read back from the end to find the last N lines. */
const TAIL_SCAN_BYTES = 4 * 1024 * 1024;

/** How many of the last lines to print; undefined: all. */
let lastLines: number | undefined;

export async function logs(settings: Settings, name: string, opts: { follow?: boolean; lines?: string }): Promise<void> {
  if (opts.lines !== undefined) {
    if (!/^\d{1,9}$/.test(opts.lines.trim())) throw new UserError(`--lines ${JSON.stringify(opts.lines)}: expected a number of lines >= 0`, 2);
    lastLines = Number(opts.lines);
  }
  const layout = layoutOf(settings.server.qmFolder);
  const runningLog = path.join(layout.running, name, LOG);
  if (await exists(runningLog)) return opts.follow ? follow(runningLog) : print(runningLog);
  if (await isQueued(layout, name)) {
    if (!opts.follow) {
      process.stderr.write(`qm: ${name} is queued and has not started yet (qm logs -f waits for it)\n`);
      return;
    }
    return followFromQueue(layout, name);
  }
  const finished = await latestFinished(layout, name);
  if (!finished) throw new UserError(`no job named ${name} (queued, running or finished)`);
  const log = path.join(finished, LOG);
  if (!(await exists(log))) throw new UserError(`${name}: ${path.relative(layout.root, finished)} has no ${LOG}`);
  await print(log);
}

async function isQueued(layout: Layout, name: string): Promise<boolean> {
  return (await exists(path.join(layout.queued, name))) || (await exists(path.join(layout.queued, `${name}.sh`)));
}

/** The newest folder of `name` in QM_dJobs or QM_lost+found. */
async function latestFinished(layout: Layout, name: string, ignore = new Set<string>()): Promise<string | undefined> {
  const candidates = [
    ...(await stampedEntries(layout.done, name)).map((e) => ({ e, dir: layout.done })),
    ...(await stampedEntries(layout.lost, name)).map((e) => ({ e, dir: layout.lost })),
  ].filter(({ e }) => !ignore.has(e));
  const newest = candidates.sort((a, b) => a.e.localeCompare(b.e)).at(-1);
  return newest && path.join(newest.dir, newest.e);
}

async function print(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await copyFrom(handle, await startOf(handle));
  } finally {
    await handle.close();
  }
}

/** Writes what the file holds from `position` on; returns the new position. */
async function copyFrom(handle: FileHandle, position: number): Promise<number> {
  const buffer = Buffer.alloc(64 * 1024);
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return position;
    position += bytesRead;
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(buffer.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve())),
    );
  }
}

/** Prints the running job's log as it grows, until the job has ended. */
async function follow(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    const own = await handle.stat();
    let position = await startOf(handle);
    for (;;) {
      position = await copyFrom(handle, position);
      // moved away (or replaced by a new run of that name): the job has ended
      if (!sameFile(own, await fs.stat(file).catch(() => undefined))) break;
      await sleep(POLL_MS);
    }
    await copyFrom(handle, position);
  } finally {
    await handle.close();
  }
}

/** Where printing starts: 0, or the start of the last `lastLines` lines. */
async function startOf(handle: FileHandle): Promise<number> {
  if (lastLines === undefined) return 0;
  const { size } = await handle.stat();
  const from = Math.max(0, size - TAIL_SCAN_BYTES);
  const buffer = Buffer.alloc(size - from);
  await handle.read(buffer, 0, buffer.length, from);
  // a final newline ends the last line; it does not start another
  let end = buffer.length > 0 && buffer[buffer.length - 1] === 0x0a ? buffer.length - 1 : buffer.length;
  for (let n = 0; n < lastLines; n++) {
    const newline = end > 0 ? buffer.lastIndexOf(0x0a, end - 1) : -1;
    if (newline < 0) return from;
    end = newline;
  }
  return lastLines === 0 ? size : from + end + 1;
}

function sameFile(a: Stats, b: Stats | undefined): boolean {
  return b !== undefined && a.ino === b.ino && a.dev === b.dev;
}

/** Waits for a queued job to start, then follows it; if it ends without running, prints why. */
async function followFromQueue(layout: Layout, name: string): Promise<void> {
  const before = new Set([...(await stampedEntries(layout.done, name)), ...(await stampedEntries(layout.lost, name))]);
  const runningLog = path.join(layout.running, name, LOG);
  for (;;) {
    if (await exists(runningLog)) return follow(runningLog);
    const claimed = await exists(path.join(layout.running, name));
    if (!claimed && !(await isQueued(layout, name))) {
      const ended = await latestFinished(layout, name, before);
      if (ended && (await exists(path.join(ended, LOG)))) return print(path.join(ended, LOG));
      if (ended) throw new UserError(`${name} ended without a ${LOG}: see ${path.relative(layout.root, ended)}`);
      if (!(await exists(runningLog))) throw new UserError(`${name} left QM_qJobs without running (deleted?)`);
    }
    await sleep(POLL_MS);
  }
}
