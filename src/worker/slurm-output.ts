/**
 * `--output`/`--error` (SPEC §9): the job's output also goes to the files
 * they name, in the job folder, while process.log stays complete.
 * 1. expands sbatch's patterns: %j %J (job id), %x (job name), %A (array id),
 *    %a (task index), %u (user), %N (host), %% ; a width (`%4a`) pads with 0;
 * 2. wraps the job's command line so that its stdout and stderr pass through
 *    `tee` into those files, keeping the command's own exit code.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { QueuedJob } from '../core/status.js';

export interface OutputFacts {
  id: string;
  job: QueuedJob;
  host: string;
  /** the job folder: relative names are there */
  dir: string;
}

/** Slurm's NO_VAL, what %a becomes outside an array. */
const NO_TASK = '4294967294';

export function expandPattern(pattern: string, f: OutputFacts): string {
  const a = f.job.array;
  const values: Record<string, string> = {
    j: f.id,
    J: f.id,
    x: a?.name ?? f.job.name,
    A: a?.id ?? f.id,
    a: a ? String(a.index) : NO_TASK,
    u: f.job.owner?.user ?? process.env.USER ?? String(process.getuid?.() ?? ''),
    N: f.host.split('.')[0] ?? f.host,
    n: '0',
    t: '0',
    s: 'batch',
  };
  return pattern.replace(/%(\d*)([jJxAauNnts%])/g, (all, width: string, key: string) => {
    if (key === '%') return '%';
    const value = values[key] ?? all;
    return width ? value.padStart(Number(width), '0') : value;
  });
}

/**
 * The command line that runs `script` with its output also in the files of
 * `output` and `error` (either may be absent); `script` unchanged when both are.
 */
export function withOutputFiles(script: string, f: OutputFacts): string {
  const out = f.job.keys.output?.trim() ? expandPattern(f.job.keys.output.trim(), f) : undefined;
  let err = f.job.keys.error?.trim() ? expandPattern(f.job.keys.error.trim(), f) : undefined;
  if (!out && !err) return script;
  for (const file of [out, err]) if (file) mkdirSync(path.dirname(path.resolve(f.dir, file)), { recursive: true });
  if (err === out) err = undefined;
  // fd 4: process.log; the command's code comes back on fd 3, the command substitution's
  const run = `{ { ${script}\n} 3>&- 4>&- 5>&-; echo $? >&3; }`;
  const tee = (file: string) => `tee -a ${quote(file)} >&4`;
  let pipeline: string;
  if (out && err) pipeline = `{ { ${run} 2>&1 1>&5 | ${tee(err)}; } 5>&1 | ${tee(out)}; }`;
  else if (out) pipeline = `{ ${run} 2>&1 | ${tee(out)}; }`;
  else pipeline = `{ ${run} 2>&1 1>&4 | ${tee(err!)}; }`;
  return `exec 4>&1; qm_code=$( ${pipeline} 3>&1 ); exit \${qm_code:-1}`;
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
