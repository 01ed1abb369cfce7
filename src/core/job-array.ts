/**
 * Job arrays (SPEC §9), the parts every role shares:
 * 1. parses an array SPEC as sbatch reads it: `0-15`, `1,3,5-7`, `0-20:5`,
 *    an optional `%K` (at most K tasks at once);
 * 2. names a task (`NAME_i`, Slurm's `%A_%a`) and tells a task's name from
 *    its array's;
 * 3. builds the ArrayTask each task carries.
 */
import type { ArrayTask, QueuedJob } from './status.js';

/** sbatch's MaxArraySize default: indices stay below it. */
export const MAX_ARRAY_INDEX = 1_000_000;

export interface ArraySpec {
  /** the indices, ascending, without repeats */
  indices: number[];
  /** at most this many at once (`%K`) */
  limit?: number;
  /** as written (kept in the folder, read again after a rebuild) */
  text: string;
}

/** The indices of `text`; throws a RangeError `"text": expected ...` when it is not an array SPEC. */
export function parseArraySpec(text: string): ArraySpec {
  const spec = text.trim();
  const fail = () => new RangeError(`${JSON.stringify(spec)}: expected an array SPEC like 0-15, 1,3,5-7, 0-20:5 or 1-100%10 (indices below ${MAX_ARRAY_INDEX})`);
  const [ranges, limitText, ...extra] = spec.split('%');
  if (extra.length > 0 || !ranges) throw fail();
  let limit: number | undefined;
  if (limitText !== undefined) {
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1) throw fail();
    limit = Number(limitText);
  }
  const indices = new Set<number>();
  for (const part of ranges.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) throw fail();
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (last < first || step < 1 || last >= MAX_ARRAY_INDEX) throw fail();
    for (let i = first; i <= last; i += step) indices.add(i);
  }
  return { indices: [...indices].sort((a, b) => a - b), limit, text: spec };
}

/** Slurm's SLURM_ARRAY_TASK_STEP: the step of a single evenly spaced range, else 1. */
function stepOf(indices: number[]): number {
  if (indices.length < 2) return 1;
  const step = indices[1]! - indices[0]!;
  return indices.every((v, i) => i === 0 || v - indices[i - 1]! === step) ? step : 1;
}

export function taskName(arrayName: string, index: number): string {
  return `${arrayName}_${index}`;
}

/** `NAME_i` → { array NAME, index i }, or undefined for a name of another form. */
export function splitTaskName(name: string): { array: string; index: number } | undefined {
  const m = /^(.+)_(\d+)$/.exec(name);
  return m ? { array: m[1]!, index: Number(m[2]) } : undefined;
}

/** The ArrayTask of every task of the array `name` (id: the array's id, SLURM_ARRAY_JOB_ID). */
export function arrayTasks(name: string, id: string, spec: ArraySpec): ArrayTask[] {
  const { indices, limit } = spec;
  const common = { name, id, count: indices.length, min: indices[0]!, max: indices.at(-1)!, step: stepOf(indices) };
  return indices.map((index) => ({ ...common, index, ...(limit !== undefined ? { limit } : {}) }));
}

/** Is this job the template of an array (its descriptor has `array`) rather than one of its tasks? */
export function isArrayTemplate(job: QueuedJob): boolean {
  return Boolean(job.keys.array?.trim()) && !job.array;
}
