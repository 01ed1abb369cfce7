/**
 * A running job's progress (SPEC §3): the last `  i / n` its process.log
 * shows, as QM 0.4 read it. Only the tail of the log is read. Used by
 * `qm status`, the monitor and Bull Board alike.
 */
import { promises as fs } from 'node:fs';

const TAIL_BYTES = 64 * 1024;
const PROGRESS = /\s+(\d+)\s*\/\s*(\d+)/g;

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

/** The last `i / n` of the log's tail, or undefined (no log, no match, n = 0). */
export async function readProgress(logFile: string): Promise<Progress | undefined> {
  const handle = await fs.open(logFile, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return progressIn(buffer.toString('utf8'));
  } finally {
    await handle.close();
  }
}
