/**
 * What a job reports in its process.log (SPEC §3), as QM 0.4 read it: its
 * progress, the last `  i / n`, and its time, the last `time: N` (seconds; QM
 * 0.4's monitor showed it as the job's duration). Only the tail of the log is
 * read. Used by `qm status`, the monitor, Bull Board and the worker's record.
 */
import { promises as fs } from 'node:fs';
import { readTail } from './process-log.js';

const PROGRESS = /\s+(\d+)\s*\/\s*(\d+)/g;
const TIME = /time:\s*(\d+)/g;

/** What the tail of a process.log reports. */
export interface LogReport {
  progress?: Progress;
  /** seconds, from the last `time: N` */
  reportedTime?: number;
}

export interface Progress {
  done: number;
  total: number;
  /** 0..100, one decimal */
  percent: number;
}

/** The last `i / n` with n > 0 in `text`. */
export function progressIn(text: string): Progress | undefined {
  let last: Progress | undefined;
  for (const m of text.matchAll(PROGRESS)) {
    const done = Number(m[1]);
    const total = Number(m[2]);
    if (total > 0) last = { done, total, percent: Math.max(0, Math.min(100, Math.round((done / total) * 1000) / 10)) };
  }
  return last;
}

/** The N of the last `time: N` in `text`. */
export function reportedTimeIn(text: string): number | undefined {
  let last: number | undefined;
  for (const m of text.matchAll(TIME)) last = Number(m[1]);
  return last;
}

/** What a log's text (its tail) reports. */
export function reportIn(text: string): LogReport {
  return { progress: progressIn(text), reportedTime: reportedTimeIn(text) };
}

/** The progress and time the log's tail reports; nothing when there is no log. */
export async function readLogReport(logFile: string): Promise<LogReport> {
  const handle = await fs.open(logFile, 'r').catch(() => undefined);
  if (!handle) return {};
  try {
    return reportIn(await readTail(handle));
  } finally {
    await handle.close();
  }
}
