/**
 * `qm submit`'s options, in one table: the command-line definition
 * (program.ts) makes commander's options of it, and the fast path of a plain
 * `qm submit` (submit-argv.ts) reads the command line with it.
 */

export interface SubmitOptionSpec {
  /** as commander takes them: `-n, --ntasks <n>`, `--move` */
  flags: string;
  help: string;
  /** may be given more than once: the values are collected, in order */
  repeat?: true;
}

export const SUBMIT_USAGE = 'submit [path] [args...]';

export const SUBMIT_HELP =
  'queue a job folder or a script with its arguments (copied; the original is not changed) and print its name; as sbatch; - reads the job as a tar stream on stdin';

export const SUBMIT_OPTIONS: readonly SubmitOptionSpec[] = [
  { flags: '--nb-proc <n>', help: 'processors the job uses (nb_proc)' },
  { flags: '-n, --ntasks <n>', help: 'tasks, as sbatch -n: nb_proc = tasks × cpus per task' },
  { flags: '--gpus <n>', help: 'GPUs the job uses (nb_gpu)' },
  { flags: '--mem <size>', help: 'memory the job may use: 500M, 16G (a bare number is megabytes; 0 = all of the worker\'s)' },
  { flags: '--priority <p>', help: 'priority: higher runs first (default 0)' },
  { flags: '-J, --name <name>', help: 'the job\'s name (default: the folder or script name, or #SBATCH -J)' },
  {
    flags: '-d, --after <name>',
    help: 'run only after job NAME has finished with code 0 (repeat, or NAME,NAME); or a Slurm dependency: afterany:A, afterok:A?afternotok:B, singleton...',
    repeat: true,
  },
  { flags: '--dependency <expr>', help: 'as sbatch --dependency (afterok, afterany, afternotok, after, singleton; "," all, "?" any)', repeat: true },
  { flags: '-a, --array <spec>', help: 'a job array: 0-15, 1,3,5-7, 0-20:5, with %K at most K tasks at once' },
  { flags: '--wrap <command>', help: 'the job is this command line (run by /bin/sh), as sbatch --wrap' },
  { flags: '-t, --time <limit>', help: 'time limit as sbatch --time: minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]; 0 = none' },
  { flags: '-W, --wait', help: 'wait until the job ends and exit with its exit code' },
  { flags: '--move', help: 'move the folder or script into QM_qJobs instead of copying it' },
  { flags: '-H, --hold', help: 'queue it held: it does not start until qm release' },
  // sbatch prints `Submitted batch job ID` unless --parsable; qm submit always prints the bare name
  { flags: '--parsable', help: 'as sbatch --parsable: print only what names the job (qm submit always does; its name is what -d takes)' },
  { flags: '-b, --begin <time>', help: 'do not start it before TIME: now+60 (seconds), now+1hour, HH:MM, YYYY-MM-DDTHH:MM' },
];

/** An option's names and how it is read: `-n, --ntasks <n>` → short -n, long --ntasks, key ntasks, takes a value. */
export interface OptionShape {
  short: string | undefined;
  long: string;
  /** the key of the parsed options (commander's attribute name: --nb-proc → nbProc) */
  key: string;
  valued: boolean;
  repeat: boolean;
}

export function shapeOf(spec: SubmitOptionSpec): OptionShape {
  const m = /^(?:(-[A-Za-z]), )?(--[a-z][a-z-]*)(?: <[^>]+>)?$/.exec(spec.flags);
  if (!m) throw new Error(`submit option flags ${JSON.stringify(spec.flags)}`);
  const long = m[2]!;
  const key = long.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return { short: m[1], long, key, valued: spec.flags.endsWith('>'), repeat: spec.repeat === true };
}
