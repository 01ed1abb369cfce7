/**
 * Reading a job's process.log without reading all of it: the bytes from an
 * offset, for the live tail on the job page (the progress is core/progress.ts).
 */
import { promises as fs } from 'node:fs';

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
