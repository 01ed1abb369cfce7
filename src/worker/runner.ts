/**
 * Runs one job's script (SPEC §3) and reports how it ended.
 * 1. `/bin/sh -c SCRIPT` in the job folder, in a process group of its own,
 *    stdin /dev/null, stdout+stderr appended to process.log.
 * 2. A sentinel in the same group holds a socket to this process: when the
 *    worker dies (even by SIGKILL) the socket closes and the sentinel kills
 *    the whole group, so no job outlives its worker. It also sweeps what the
 *    script left behind (daemons) once the job has ended.
 * 3. Optional CPU pinning with taskset; inherited by every child (skipped
 *    when the CPUs given are all those this process may use).
 * 4. Kill = SIGTERM to the group, SIGKILL after `killGrace` seconds.
 * 5. CPU time of the tree from the shell's `times`.
 */
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import { allowedCpus } from './cpus.js';

// $0 is the job's script line, run by its own `/bin/sh -c` (SPEC §3). fd 3:
// the launcher's socket; fd 4: where `times` goes.
// A SIGTERM to the group is for the job: the sentinel ignores it (it must still
// kill the group if the launcher dies during kill_grace), the wrapper outlives it,
// and the job's shell waits for the command it runs (which may clean up for
// kill_grace seconds) and then exits with that command's code, running nothing
// more. A trap the script sets itself replaces the shell's.
const WRAPPER = [
  "(trap '' TERM; exec 4>&-; read _ <&3; kill -KILL 0) &",
  'trap : TERM',
  `/bin/sh -c "trap 'exit \\$?' TERM; $0" 3<&- 4>&-`,
  'rc=$?',
  'times >&4',
  'exit $rc',
].join('\n');

export interface RunOptions {
  script: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** fd of process.log, opened for append */
  logFd: number;
  /** CPUs to pin the tree to; empty = no pinning */
  cpus: number[];
  killGrace: number;
}

export interface RunResult {
  /** exit code; 128+N when ended by signal N */
  code: number;
  /** seconds of user+system CPU of the job's processes, when known */
  cpu: number | undefined;
}

export interface RunningProcess {
  pid: number;
  done: Promise<RunResult>;
  /** SIGTERM to the group now, SIGKILL after the grace period. */
  kill(): void;
}

/** The CPUs this process may run on: what a job started unpinned gets. */
let ownCpus: string | undefined;

export function runScript(opts: RunOptions): RunningProcess {
  const shArgs = ['-c', WRAPPER, opts.script];
  const cpus = [...opts.cpus].sort((a, b) => a - b).join(',');
  ownCpus ??= allowedCpus().join(',');
  // pinned to all the CPUs it would have anyway: no taskset (an exec less)
  const [cmd, args] = cpus && cpus !== ownCpus ? ['taskset', ['-c', cpus, '/bin/sh', ...shArgs]] : ['/bin/sh', shArgs];
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', opts.logFd, opts.logFd, 'pipe', 'pipe'],
  });
  const timesOut = child.stdio[4] as Readable;
  let times = '';
  timesOut.setEncoding('utf8');
  timesOut.on('data', (chunk: string) => (times += chunk));
  let graceTimer: NodeJS.Timeout | undefined;
  let exited = false;

  const done = new Promise<RunResult>((resolve) => {
    // spawn itself failed (no /bin/sh, no taskset): the shell's "not found" code
    child.once('error', () => {
      exited = true;
      resolve({ code: 127, cpu: undefined });
    });
    child.once('exit', (code, signal) => {
      exited = true;
      if (graceTimer) clearTimeout(graceTimer);
      // what the script left in its group dies now (the sentinel would do it a moment later)
      (child.stdio[3] as Readable | null)?.destroy();
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      const finalCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
      // `times` was written before exit; give the pipe a moment to deliver it
      const finish = () => resolve({ code: finalCode, cpu: parseChildTimes(times) });
      if (timesOut.readableEnded || timesOut.destroyed) finish();
      else {
        timesOut.once('end', finish);
        setTimeout(finish, 200).unref();
      }
    });
  });

  return {
    pid: child.pid ?? -1,
    done,
    kill() {
      if (exited || child.pid === undefined) return;
      signalGroup(child.pid, 'SIGTERM');
      graceTimer ??= setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), opts.killGrace * 1000);
    },
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** `times` prints the shell's then its children's user and system time: `0m1.5s 0m0.2s`. */
export function parseChildTimes(text: string): number | undefined {
  const lines = text.trim().split('\n');
  if (lines.length < 2) return undefined;
  const parts = lines[1]!.trim().split(/\s+/).map(parseMinSec);
  if (parts.length !== 2 || parts.some((p) => p === undefined)) return undefined;
  return (parts[0] ?? 0) + (parts[1] ?? 0);
}

function parseMinSec(text: string): number | undefined {
  const m = /^(\d+)m([\d.]+)s$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}
