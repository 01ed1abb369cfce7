/**
 * The guard of a launcher's jobs: no job outlives its launcher, even one
 * killed by SIGKILL. One small shell per launcher, in a process group of its
 * own, reads the process groups of the running jobs from a pipe whose only
 * writer is the launcher (`+ PGID` when a job starts, `- PGID` once its group
 * is dead). When the launcher dies the pipe closes and the guard kills the
 * groups it still lists, then ends. One shell for all jobs instead of a
 * watcher forked inside each job: a job's start costs one short write.
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

/** How long the end of a group may wait to be told with the next start (a write wakes the guard). */
const FORGET_WAIT_MS = 1_000;

export class JobGuard {
  private readonly shell: ChildProcess;
  /** `- PGID` lines not written yet */
  private gone = '';
  private goneTimer: NodeJS.Timeout | undefined;

  constructor() {
    // named by its $0 in `ps`
    this.shell = spawn('/bin/sh', ['-c', GUARD, 'qm-job-guard'], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    // a guard that could not start leaves the jobs as unguarded as before it: nothing to stop for
    this.shell.on('error', () => undefined);
    this.shell.stdin!.on('error', () => undefined);
    this.shell.unref();
  }

  /** The job whose process group is `pgid` is to die with the launcher: said at once. */
  watch(pgid: number): void {
    this.write(`+ ${pgid}\n`);
  }

  /**
   * The group `pgid` is dead: said with the next start, or within
   * FORGET_WAIT_MS (until then a launcher's death would signal a group that
   * is gone, whose number the system is most unlikely to have reused).
   */
  forget(pgid: number): void {
    this.gone += `- ${pgid}\n`;
    this.goneTimer ??= setTimeout(() => this.write(''), FORGET_WAIT_MS).unref();
  }

  private write(line: string): void {
    clearTimeout(this.goneTimer);
    this.goneTimer = undefined;
    this.shell.stdin!.write(this.gone + line);
    this.gone = '';
  }
}
