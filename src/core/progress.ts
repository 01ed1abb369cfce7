/**
 * A running job's progress (SPEC §3): the last `  i / n` its process.log
 * shows, as QM 0.4 read it. Only the tail of the log is read.
 */
import { promises as fs } from 'node:fs';

const TAIL_BYTES = 64 * 1024;
const PROGRESS = /\s+(\d+)\s*\/\s*(\d+)/g;

export interface Progress {
  done: number;
  total: number;
}

/** The last `i / n` of the log's tail, or undefined (no log, no match, n = 0). */
export async function readProgress(logFile: string): Promise<Progress | undefined> {
  const handle = await fs.open(logFile, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const last = [...buffer.toString('utf8').matchAll(PROGRESS)].at(-1);
    if (!last) return undefined;
    const [done, total] = [Number(last[1]), Number(last[2])];
    return total > 0 ? { done, total } : undefined;
  } finally {
    await handle.close();
  }
}
