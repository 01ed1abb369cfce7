/**
 * QM's own lines in a job's process.log (SPEC §3), written and read here only.
 * 1. Writes: the header (`QM:` notices, `Nb of processors limited to N`,
 *    `Job started by QM at:`), the footer (`Job finished at: ... with code N`
 *    and its `Reason:`), and the ends of a job that did not run to its end:
 *    `Job not run: dependency failed:`, `Job cancelled by ... before it
 *    started`, `Job lost at:`.
 * 2. Reads them back: when a job started, and how it ended (an Outcome),
 *    for the done folders Redis does not know and for dependencies.
 * 3. Reads a log without reading all of it: its head, its tail, a slice.
 * 4. Under a root worker, what QM writes in a job's folder belongs to the
 *    folder's owner, as the job's own files do (SPEC §8).
 */
import { closeSync, fchownSync, fstatSync, openSync, promises as fs, readSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Outcome, StopReason } from './status.js';

export const LOG_NAME = 'process.log';

export function logPathOf(folder: string): string {
  return path.join(folder, LOG_NAME);
}

// --- writing ---------------------------------------------------------------

/** The lines written before the script's first output. */
export function headerLines(opts: { notices: string[]; clampedTo?: number; startedAt: Date }): string {
  const lines = opts.notices.map((n) => `QM: ${n}`);
  if (opts.clampedTo !== undefined) lines.push(`Nb of processors limited to ${opts.clampedTo}`);
  lines.push(`Job started by QM at: ${opts.startedAt.toISOString()}`);
  return lines.join('\n') + '\n';
}

/** What QM says after the job's processes have ended. */
export interface RunEnd {
  code: number;
  endedAt: Date;
  stop: StopReason | undefined;
  /** the launcher's note (e.g. it died under the job) */
  note?: string;
  /** processes QM killed because the job left them running */
  leftovers: string[];
  /** the kernel killed in it for going over its memory limit (MB) */
  outOfMemoryMb?: number;
}

export function footerLines(end: RunEnd): string {
  const lines: string[] = [];
  if (end.note) lines.push(end.note);
  if (end.leftovers.length > 0) {
    lines.push(`QM killed ${end.leftovers.length} process(es) the job left running: ${end.leftovers.join('; ')}`);
  }
  lines.push(`Job finished at: ${end.endedAt.toISOString()} with code ${end.code}`);
  if (end.stop) lines.push(`Reason: ${reasonText(end.stop)}`);
  else if (end.outOfMemoryMb !== undefined) lines.push(`Reason: ${outOfMemoryText(end.outOfMemoryMb)}`);
  return lines.join('\n') + '\n';
}

function reasonText(stop: StopReason): string {
  switch (stop.kind) {
    case 'timedOut':
      return `time limit of ${stop.limit} s reached`;
    case 'requeue':
      return REQUEUE_REASON;
    case 'abandoned':
      return 'declared lost while its worker could not reach Redis';
    case 'killed':
      return `killed by ${stop.by}`;
  }
}

function outOfMemoryText(limitMb: number): string {
  return `out of memory (limit ${limitMb} MB)`;
}

const REQUEUE_REASON = 'stopped by shutdown (shutdown = requeue)';

/**
 * Appends the footer, reading the log's tail first: the footer starts a line
 * of its own when the job's last output did not end its line. Returns that
 * tail (the job's last reports are in it). Synchronous: the job launcher
 * writes it as the run ends, a few calls on one small file off the worker's
 * event loop. `owner`: the folder's, when the caller knows it (one stat less).
 */
export function appendFooter(logPath: string, end: RunEnd, owner?: Owner): string {
  const fd = openSync(logPath, 'a+');
  try {
    const own = fstatSync(fd);
    ownedAsFolderSync(fd, path.dirname(logPath), { own, owner });
    const length = Math.min(TAIL_BYTES, own.size);
    const buffer = Buffer.allocUnsafe(length);
    const tail = buffer.toString('utf8', 0, readSync(fd, buffer, 0, length, own.size - length));
    const lineOpen = tail !== '' && !tail.endsWith('\n');
    writeSync(fd, (lineOpen ? '\n' : '') + footerLines(end));
    return tail;
  } finally {
    closeSync(fd);
  }
}

export function notRunLine(dependency: string, why: string, at: Date): string {
  return `Job not run: dependency failed: ${dependency} (${why}), at: ${at.toISOString()}\n`;
}

export function cancelledLine(by: string, at: Date): string {
  return `Job cancelled by ${by} at: ${at.toISOString()} before it started\n`;
}

export function lostLine(reason: string, at: Date): string {
  return `Job lost at: ${at.toISOString()}: ${reason}\n`;
}

/** Appends one of QM's lines (the ends above) to the job's log. */
export async function appendLine(folder: string, line: string): Promise<void> {
  const log = await fs.open(logPathOf(folder), 'a');
  try {
    await log.write(line);
    await ownedAsFolder(log, folder);
  } finally {
    await log.close();
  }
}

type Owner = { uid: number; gid: number };

/** A file QM writes in a job folder: given to the folder's owner when QM runs as root. */
export async function ownedAsFolder(file: fs.FileHandle, folder: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const [dir, own] = await Promise.all([fs.stat(folder), file.stat()]);
  if (own.uid !== dir.uid || own.gid !== dir.gid) await file.chown(dir.uid, dir.gid);
}

/** Why a job whose process.log cannot be opened for writing (`code`: EISDIR, EACCES...) goes to QM_lost+found. */
export function unwritableLogReason(code: string): string {
  return `${LOG_NAME} cannot be opened for writing (${code}): QM writes the job's output there`;
}

/**
 * ownedAsFolder for a file opened with the sync API (the job launcher's
 * header and footer); `known`: the file's stat and the folder's owner, when
 * the caller has them.
 */
export function ownedAsFolderSync(fd: number, folder: string, known: { own?: Owner; owner?: Owner | undefined } = {}): void {
  if (process.getuid?.() !== 0) return;
  const [dir, own] = [known.owner ?? statSync(folder), known.own ?? fstatSync(fd)];
  if (own.uid !== dir.uid || own.gid !== dir.gid) fchownSync(fd, dir.uid, dir.gid);
}

// --- reading ---------------------------------------------------------------

/** When QM started the job, from its header; QM 0.4 wrote local times without a `Z`, which Date reads as local. */
export function startedAtIn(head: string): number | undefined {
  return timeOf(/^Job started by QM at:\s+(\S+)/m.exec(head)?.[1]);
}

/** How the job ended, from the tail of its log: undefined when QM wrote no end (QM 0.4's non-blocking mode). */
export function endIn(tail: string): { outcome: Outcome; endedAt: number | undefined } | undefined {
  const dependency = [...tail.matchAll(/^Job not run: dependency failed: (.+?) \(.*\), at: (\S+)$/gm)].at(-1);
  if (dependency) return { outcome: { kind: 'dependencyFailed', dependency: dependency[1]! }, endedAt: timeOf(dependency[2]) };
  const cancelled = [...tail.matchAll(/^Job cancelled by (.+) at: (\S+) before it started$/gm)].at(-1);
  if (cancelled) return { outcome: { kind: 'cancelled', by: cancelled[1]! }, endedAt: timeOf(cancelled[2]) };
  const finished = [...tail.matchAll(/^Job finished at: (\S+) with code (-?\d+)$/gm)].at(-1);
  if (!finished) return undefined;
  const code = Number(finished[2]);
  const reason = /^Reason: (.+)$/m.exec(tail.slice(finished.index))?.[1];
  return { outcome: outcomeOfReason(code, reason), endedAt: timeOf(finished[1]) };
}

function outcomeOfReason(code: number, reason: string | undefined): Outcome {
  if (reason === undefined) return code === 0 ? { kind: 'success', code: 0 } : { kind: 'failed', code };
  const limit = /^time limit of (\d+) s reached$/.exec(reason);
  if (limit) return { kind: 'timedOut', code, limit: Number(limit[1]) };
  const memory = /^out of memory \(limit (\d+) MB\)$/.exec(reason);
  if (memory) return { kind: 'outOfMemory', code, limitMb: Number(memory[1]) };
  const killed = /^killed by (.+)$/.exec(reason);
  if (killed) return { kind: 'killed', code, by: killed[1]! };
  if (reason === REQUEUE_REASON) return { kind: 'killed', code, by: 'shutdown' };
  // any other reason: the job did not end by itself
  return { kind: 'killed', code, by: reason };
}

function timeOf(text: string | undefined): number | undefined {
  const t = text === undefined ? NaN : new Date(text).getTime();
  return Number.isNaN(t) ? undefined : t;
}

const TAIL_BYTES = 64 * 1024;
const HEAD_BYTES = 4096;

/** The `bytes` of an open file that start at `from` (from its end when negative), as text. */
export async function readSliceOf(handle: fs.FileHandle, from: number, bytes = TAIL_BYTES): Promise<string> {
  const size = (await handle.stat()).size;
  const start = from < 0 ? Math.max(0, size + from) : Math.min(from, size);
  const length = Math.min(bytes, size - start);
  const buffer = Buffer.alloc(length);
  await handle.read(buffer, 0, length, start);
  return buffer.toString('utf8');
}

/** The last 64 KiB of an open file, as text. */
export function readTail(handle: fs.FileHandle): Promise<string> {
  return readSliceOf(handle, -TAIL_BYTES);
}

/** The start of a log (its header) and its tail; empty when it cannot be read. */
export async function readEdges(logPath: string): Promise<{ head: string; tail: string }> {
  const handle = await fs.open(logPath, 'r').catch(() => undefined);
  if (!handle) return { head: '', tail: '' };
  try {
    return { head: await readSliceOf(handle, 0, HEAD_BYTES), tail: await readTail(handle) };
  } finally {
    await handle.close();
  }
}

export interface LogSlice {
  text: string;
  /** where the slice starts, in bytes */
  start: number;
  /** where the next read should start (the end of the slice) */
  next: number;
  size: number;
}

/**
 * Up to `max` bytes from `offset` (a negative offset counts from the end; an
 * offset past the end, e.g. of a log that was replaced, restarts at the tail),
 * for a live tail. A slice cut inside a UTF-8 character loses that character.
 */
export async function readSlice(logPath: string, offset: number, max: number): Promise<LogSlice> {
  const file = await fs.open(logPath, 'r');
  try {
    const { size } = await file.stat();
    let start = offset < 0 ? Math.max(0, size + offset) : offset;
    if (start > size) start = Math.max(0, size - max);
    const length = Math.min(max, size - start);
    const buf = Buffer.alloc(length);
    const { bytesRead } = await file.read(buf, 0, length, start);
    return { text: buf.subarray(0, bytesRead).toString('utf8'), start, next: start + bytesRead, size };
  } finally {
    await file.close();
  }
}
