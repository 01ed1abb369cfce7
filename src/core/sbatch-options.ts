/**
 * The `#SBATCH` options QM does not honour as such, each with why (SPEC §9):
 * what a script's `QM:` line says, and what README's table lists.
 * 1. `ignoredReason`: why an option is ignored, or a generic reason;
 * 2. `nodesNotice`: `--nodes` above 1 runs on one host.
 */

/** option (long form) → why QM ignores it */
const IGNORED: Record<string, string> = {
  '--partition': 'QM has no partitions: any worker with room runs the job',
  '--account': 'QM keeps no accounts',
  '--qos': 'QM has no QOS',
  '--reservation': 'QM has no reservations',
  '--constraint': 'QM workers have no features',
  '--exclusive': 'a job gets its own processors; the host is not reserved whole',
  '--export': 'the job always gets the worker\'s environment plus its own variables',
  '--get-user-env': 'the job always gets the worker\'s environment plus its own variables',
  '--chdir': 'the job runs in its own folder (SLURM_SUBMIT_DIR is where qm submit ran)',
  '--requeue': 'requeue is on_worker_loss in QMserv.cfg',
  '--no-requeue': 'requeue is on_worker_loss in QMserv.cfg',
  '--open-mode': 'output files are appended to',
  '--signal': 'at its time limit a job gets SIGTERM, then SIGKILL after kill_grace',
  '--nice': 'use #QM priority=P',
  '--priority': 'use #QM priority=P',
  '--ntasks-per-node': 'one node: -n sets the tasks',
  '--ntasks-per-core': 'one node: -n sets the tasks',
  '--ntasks-per-socket': 'one node: -n sets the tasks',
  '--threads-per-core': 'processors are counted, not cores',
  '--hint': 'processors are counted, not cores',
  '--distribution': 'one node: tasks are not distributed',
  '--switches': 'one node',
  '--tmp': 'TMPDIR is a folder of the job\'s own, not reserved space',
  '--licenses': 'QM has no licenses',
  '--deadline': 'QM has no deadlines',
  '--kill-on-invalid-dep': 'a job whose dependency can never be met is always ended',
  '--parsable': 'a command-line option of sbatch',
  '--wait': 'use qm submit --wait',
  '--propagate': 'limits are the worker\'s',
  '--mem-bind': 'memory is not bound',
  '--cpu-freq': 'the CPU frequency is the host\'s',
  '--profile': 'QM records elapsed and CPU time only',
  '--acctg-freq': 'QM records elapsed and CPU time only',
  '--wckey': 'QM keeps no accounts',
  '--cluster': 'one QM is one cluster',
  '--clusters': 'one QM is one cluster',
  '--uid': 'a job runs as its worker (or its folder\'s owner under a root worker)',
  '--gid': 'a job runs as its worker (or its folder\'s owner under a root worker)',
  '--verbose': 'sbatch\'s own output',
  '--quiet': 'sbatch\'s own output',
  '--input': 'a job\'s input is /dev/null',
};

/** Short forms of the options above. */
export const SHORT_FORMS: Record<string, string> = {
  '-p': '--partition', '-A': '--account', '-q': '--qos', '-C': '--constraint', '-D': '--chdir',
  '-v': '--verbose', '-Q': '--quiet', '-i': '--input', '-M': '--clusters', '-W': '--wait',
};

/** Options whose value, if any, is attached (`--exclusive[=user]`): the next word is not theirs. */
export const FLAG_OPTIONS = new Set(['--exclusive', '--requeue', '--no-requeue', '--parsable', '--wait',
  '--get-user-env', '--verbose', '--quiet', '--overcommit', '--contiguous', '--spread-job', '--use-min-nodes', '-O', '-v', '-Q', '-W', '-s', '--oversubscribe']);

export function ignoredReason(option: string): string {
  return IGNORED[SHORT_FORMS[option] ?? option] ?? 'not a QM notion';
}

/** The README table's rows: every option ignored, with why. */
export function ignoredOptions(): Array<[string, string]> {
  return Object.entries(IGNORED);
}
