/**
 * An array's counts as the read model shows them (`qm status`, `qm show`,
 * the monitor): its tasks queued, running, done (code 0) and failed (any
 * other end), from the running table and each task's latest record of
 * this array.
 */
import type { ArrayInfo } from './arrays.js';
import type { JobStore } from './jobstore.js';
import { taskName } from './job-array.js';
import type { RunningInfo } from './status.js';

export interface ArraySummary {
  name: string;
  id: string;
  spec: string;
  count: number;
  queued: number;
  running: number;
  done: number;
  failed: number;
}

/** One line of an array's counts: `array 1-698%64: 600 queued, 64 running, 30 done, 4 failed`. */
export function describeArray(a: ArraySummary): string {
  return `array ${a.spec}: ${a.queued} queued, ${a.running} running, ${a.done} done, ${a.failed} failed`;
}

/** `a`'s counts; `running`: the running table, read once for several arrays. */
export async function summaryOf(store: JobStore, a: ArrayInfo, running: RunningInfo[]): Promise<ArraySummary> {
  const records = await store.lastDoneOf(a.indices.map((i) => taskName(a.name, i)));
  const ended = records.filter((r) => r?.array?.id === a.id);
  const done = ended.filter((r) => r!.outcome.kind === 'success').length;
  const runningNow = running.filter((r) => r.array?.id === a.id).length;
  const queued = a.indices.length - ended.length - runningNow;
  return { name: a.name, id: a.id, spec: a.spec, count: a.indices.length, queued, running: runningNow, done, failed: ended.length - done };
}
