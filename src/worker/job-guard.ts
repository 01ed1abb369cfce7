/**
 * The guard of a launcher's jobs: no job outlives its launcher, even one
 * killed by SIGKILL. One small shell per launcher, in a process group of its
 * own, reads the process groups of the running jobs from a pipe whose only
 * writer is the launcher (`+ PGID` when a job starts, `- PGID` once its group
 * is dead). When the launcher dies the pipe closes and the guard kills the
 * groups it still lists, then ends. One shell for all jobs instead of a
 * watcher forked inside each job: a job's start costs two short writes.
 * It ignores the signals a terminal or a service manager sends to stop QM:
 * the launcher's end is its only cue.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** `groups` is a space-separated list with a space at each end, so that ` PGID ` finds one entry exactly. */
const GUARD = `trap '' INT TERM HUP QUIT
groups=' '
while read -r op pg; do
  case $op in
    +) groups="$groups$pg " ;;
    -) case $groups in *" $pg "*) groups="\${groups%% $pg *} \${groups#* $pg }" ;; esac ;;
  esac
done
for pg in $groups; do kill -s KILL -- "-$pg" 2>/dev/null; done`;

export class JobGuard {
  private readonly shell: ChildProcess;

  constructor() {
    // named by its $0 in `ps`
    this.shell = spawn('/bin/sh', ['-c', GUARD, 'qm-job-guard'], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    // a guard that could not start leaves the jobs as unguarded as before it: nothing to stop for
    this.shell.on('error', () => undefined);
    this.shell.stdin!.on('error', () => undefined);
    this.shell.unref();
  }

  /** The job whose process group is `pgid` is to die with the launcher. */
  watch(pgid: number): void {
    this.shell.stdin!.write(`+ ${pgid}\n`);
  }

  /** The group `pgid` is dead: its number may be reused. */
  forget(pgid: number): void {
    this.shell.stdin!.write(`- ${pgid}\n`);
  }
}
