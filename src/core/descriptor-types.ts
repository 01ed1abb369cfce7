import type { ArraySpec } from './job-array.js';

/** What QM reads from a job's descriptor (SPEC §2), whatever its format. */
export type DescriptorFormat = 'cfg' | 'xml' | 'sh';

export interface Descriptor {
  format: DescriptorFormat;
  /** File name of the descriptor inside the job folder (the .sh file in shell mode). */
  file: string;
  /** its modification time (ms) */
  fileMtimeMs: number;
  /** Command line run with /bin/sh -c in the job folder (shell mode: `bash NAME.sh`). */
  script: string;
  /** Processors asked for (>= 1, not yet clamped to the budget). */
  nbProc: number;
  /** Slurm tasks (-n); nbProc is then ntasks × cpus per task. */
  ntasks: number | undefined;
  /** GPUs asked; 0 = none. */
  nbGpu: number;
  /** Memory asked, MB; undefined = none reserved; 0 = all of the worker's. */
  memoryMb: number | undefined;
  email: string | undefined;
  info: string | undefined;
  /** Higher runs first; default 0. */
  priority: number;
  size: string | undefined;
  /** Seconds; undefined = no limit. */
  timeLimit: number | undefined;
  /** Names of jobs that must finish with code 0 first. */
  after: string[];
  /** Slurm --mail-type values (END, FAIL, ALL, NONE...); empty = END,FAIL. */
  mailType: string[];
  /** `hold` key, `#SBATCH -H/--hold`: queued held, until `qm release`. */
  hold: boolean;
  /** `begin` key, `#SBATCH --begin`: not started before this time (as written; see begin-time.ts). */
  begin: string | undefined;
  /** -J/--job-name in shell mode (informative; the folder name stays the job name). */
  jobName: string | undefined;
  /** a job array (key `array`, `#SBATCH --array`): one task per index */
  array: ArraySpec | undefined;
  /** arguments given to the script (`qm submit FILE ARG...`; key `args`, a JSON list) */
  args: string[];
  /** Slurm's dependency expression (`afterany:A?afterok:B`, `singleton`...), when more than `after` */
  dependency: string | undefined;
  /** `--output`/`--error` patterns (`%j %x %A %a %u %N %%`), relative to the job folder */
  output: string | undefined;
  error: string | undefined;
  /** one line each, at the top of process.log: options not honoured, clamps, limits not enforced */
  notices: string[];
  /** All keys of the QM section (lower-cased), known or not, as written. */
  keys: Record<string, string>;
  /** Non-fatal remarks (unknown #SBATCH options...), logged at ingest. */
  warnings: string[];
}

/** A descriptor that cannot be used; `message` is the reason written to QM_REASON.txt. */
export class DescriptorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DescriptorError';
  }
}
