/**
 * Reading a job's process.log without reading all of it.
 * 1. `progressOf`: the last `  i / n` of the log's tail (SPEC §3), the job's progress.
 * 2. `readSlice`: the bytes from an offset, for the live tail on the job page.
 */
import { promises as fs } from 'node:fs';

/** Bytes read from the end of the log to find the progress. */
const PROGRESS_WINDOW = 4096;
const PROGRESS = /\s+(\d+)\s*\/\s*(\d+)/g;

export interface Progress {
  done: number;
  total: number;
  /** 0..100 */
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

export async function progressOf(logPath: string): Promise<Progress | undefined> {
  const slice = await readSlice(logPath, -PROGRESS_WINDOW, PROGRESS_WINDOW).catch(() => undefined);
  return slice ? progressIn(slice.text) : undefined;
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
 * Up to `max` bytes from `offset` (a negative offset counts from the end;
 * an offset past the end, e.g. of a log that was replaced, restarts at the tail).
 * A slice cut inside a UTF-8 character loses that character, never more.
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
