/**
 * Runs one job's script (SPEC §3) and reports how it ended.
 * 1. `/bin/sh -c SCRIPT` in the job folder, in a process group of its own,
 *    stdin /dev/null, stdout+stderr appended to process.log. QM's part (2-4)
 *    runs in that shell before the script, on the script's first line so
 *    that its line numbers stay the script's: one shell, one exec a job.
 * 2. The caller kills the group should it die (job-guard.ts): the group's
 *    id is the shell's pid.
 * 3. Optional CPU pinning, inherited by every child: the shell moves itself
 *    into the cgroup cpuset of its CPUs (cpuset.ts), or pins itself with
 *    `taskset -p` should that fail; where there is no cpuset it is started
 *    under taskset. Skipped when the CPUs given are all this process may use.
 * 3b. Memory: the shell joins the job's memory cgroup (memory-cgroup.ts) the
 *    same way, before anything else runs.
 * 3c. Run as the folder's owner (a root worker, SPEC §8): once pinned and in
 *    its cgroups, the shell becomes the job's user with `setpriv` (uid, gid,
 *    supplementary groups) and runs the rest in a plain `/bin/sh -c`.
 * 4. CPU time: an EXIT trap writes `times` (the shell's and its children's)
 *    to a file read here (in /dev/shm where there is one). A script that replaces that trap, or ends with
 *    `exec`, has no CPU time.
 * 5. Kill = SIGTERM to the group, SIGKILL after `killGrace` seconds. On
 *    SIGTERM the shell waits for the command it runs (which may clean up for
 *    kill_grace seconds) and then exits with that command's code, running
 *    nothing more. A trap the script sets replaces it.
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import path from 'node:path';
import { allowedCpus } from './cpus.js';

/** Where pinning is by cgroup cpuset: the `tasks` file of a set of CPUs (cpuset.ts). */
export interface CpusetSource {
  tasksFile(cpus: readonly number[]): string | undefined;
}

/** Who a job runs as, when not as this process's user. */
export interface RunAs {
  uid: number;
  gid: number;
  groups: number[];
}

export interface RunOptions {
  script: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** fd of process.log, opened for append */
  logFd: number;
  /** CPUs to pin the tree to; empty = no pinning */
  cpus: number[];
  /** where pinning is by cgroup cpuset */
  cpusets?: CpusetSource | undefined;
  /** the file that puts the shell in the job's memory cgroup */
  memoryJoin?: string | undefined;
  runAs?: RunAs | undefined;
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
/** the EXIT traps write `times` to a file of their own, read and removed at once */
let runs = 0;
/**
 * Where those files go: /dev/shm, a memory file system, where there is one
 * that everybody may write (the job's user writes it). Creating a file on a
 * disk file system may cost a millisecond of CPU (measured on ext4 here:
 * 850 µs, 8 µs on tmpfs), more than all the rest of a trivial job.
 */
let timesDir: string | undefined;

export function runScript(opts: RunOptions): RunningProcess {
  const cpus = [...opts.cpus].sort((a, b) => a - b).join(',');
  ownCpus ??= allowedCpus().join(',');
  // pinned to all the CPUs it would have anyway: not pinned (an exec less)
  const pin = cpus !== '' && cpus !== ownCpus;
  const cpuset = pin ? opts.cpusets?.tasksFile(opts.cpus) : undefined;
  timesDir ??= sharedMemoryDir() ?? tmpdir();
  const timesFile = path.join(timesDir, `qm-times-${process.pid}-${++runs}`);
  const join =
    (cpuset ? `{ echo 0 >${quote(cpuset)}; } 2>/dev/null || taskset -p -c ${cpus} $$ >/dev/null 2>&1; ` : '') +
    (opts.memoryJoin ? `{ echo 0 >${quote(opts.memoryJoin)}; } 2>/dev/null || echo 'QM: memory limit not enforced: the job could not join its cgroup'; ` : '');
  const rest = prelude(timesFile) + opts.script;
  // as another user: the rest is the argument of a plain `sh -c` run by setpriv ($0 stays /bin/sh)
  const shArgs = opts.runAs ? ['-c', `${join}exec ${setprivOf(opts.runAs)} /bin/sh -c "$1"`, '/bin/sh', rest] : ['-c', join + rest];
  const [cmd, args] = pin && !cpuset ? ['taskset', ['-c', cpus, '/bin/sh', ...shArgs]] : ['/bin/sh', shArgs];
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', opts.logFd, opts.logFd],
  });
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
      // what the script left in its group dies now
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
      const finalCode = code ?? 128 + (signal ? (osConstants.signals[signal] ?? 0) : 0);
      resolve({ code: finalCode, cpu: takeTimes(timesFile) });
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

/** QM's part of the job's shell, one line ending where the script begins. */
function prelude(timesFile: string): string {
  return (
    "trap 'exit $?' TERM; " +
    `trap ${quote(`times >${quote(timesFile)}`)} EXIT; `
  );
}

function sharedMemoryDir(): string | undefined {
  try {
    const st = statSync(SHARED_MEMORY_DIR);
    // world-writable and sticky, as /tmp
    return st.isDirectory() && (st.mode & 0o1777) === 0o1777 ? SHARED_MEMORY_DIR : undefined;
  } catch {
    return undefined;
  }
}

const SHARED_MEMORY_DIR = '/dev/shm';

function setprivOf(user: RunAs): string {
  const groups = user.groups.length > 0 ? `--groups=${user.groups.join(',')}` : '--clear-groups';
  return `setpriv --reuid=${user.uid} --regid=${user.gid} ${groups} --`;
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function takeTimes(file: string): number | undefined {
  try {
    const text = readFileSync(file, 'utf8');
    unlinkSync(file);
    return parseTimes(text);
  } catch {
    return undefined; // the script replaced the EXIT trap, or ended by exec or by a signal
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** `times` prints the shell's then its children's user and system time: `0m1.5s 0m0.2s`. */
export function parseTimes(text: string): number | undefined {
  const parts = text.trim().split(/\s+/).map(parseMinSec);
  if (parts.length !== 4 || parts.some((p) => p === undefined)) return undefined;
  return parts.reduce<number>((sum, p) => sum + (p ?? 0), 0);
}

function parseMinSec(text: string): number | undefined {
  const m = /^(\d+)m([\d.]+)s$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}
