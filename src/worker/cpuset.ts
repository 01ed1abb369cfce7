/**
 * CPU pinning by cgroup cpuset, where this process may create cgroups (SPEC §3
 * `pin_cpus`): a job's shell moves itself into the cpuset of its CPUs before
 * it starts anything, so the job is pinned without an exec of `taskset`, and
 * cannot widen its own affinity beyond its CPUs (it can with taskset's).
 * 1. The cpusets are children of this process's own cgroup in the cgroup v1
 *    `cpuset` hierarchy, one per set of CPUs, named `qm-cpus-0-3`; workers of
 *    one cgroup share them. Created when first needed (CPUs and memory nodes
 *    written), and again if gone.
 * 2. The shell joins by writing 0 (itself) to the cpuset's `tasks` file: a
 *    move of one thread, which the kernel makes without the RCU grace period
 *    (~20 ms here) that a move of a whole process through `cgroup.procs`
 *    waits for. cgroup v2 has no such file outside threaded cgroups: there,
 *    as without write access, jobs are pinned with taskset (runner.ts), as
 *    they are should a write fail later.
 * 3. `close` removes the cpusets this process used that are empty.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readMounts } from '../core/filesystems.js';

export class Cpusets {
  private readonly made = new Set<string>();

  /** `base`: this process's cgroup directory in the cpuset hierarchy */
  private constructor(private readonly base: string) {}

  /** The cpusets under this process's cgroup, or undefined when it may not make them. */
  static open(): Cpusets | undefined {
    const base = ownCpusetDir();
    if (!base) return undefined;
    try {
      accessSync(base, constants.W_OK);
    } catch {
      return undefined;
    }
    return new Cpusets(base);
  }

  /** The `tasks` file of the cpuset of these CPUs, or undefined if it cannot be made. */
  tasksFile(cpus: readonly number[]): string | undefined {
    const dir = path.join(this.base, `qm-cpus-${[...cpus].sort((a, b) => a - b).join('-')}`);
    if (!existsSync(dir) && !this.make(dir, cpus)) return undefined;
    this.made.add(dir);
    return path.join(dir, 'tasks');
  }

  /** Removes the cpusets this process used, unless a process is still in one. */
  close(): void {
    for (const dir of this.made) {
      try {
        rmdirSync(dir);
      } catch {
        // still in use (by a job, or by another worker's)
      }
    }
    this.made.clear();
  }

  private make(dir: string, cpus: readonly number[]): boolean {
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    const mems = read(path.join(this.base, 'cpuset.mems'));
    return mems !== undefined && write(path.join(dir, 'cpuset.mems'), mems) && write(path.join(dir, 'cpuset.cpus'), cpus.join(','));
  }
}

/** Where the v1 cpuset controller is mounted, joined with this process's cgroup in it. */
function ownCpusetDir(): string | undefined {
  const mount = readMounts().find((m) => m.fsType === 'cgroup' && m.superOptions.includes('cpuset'));
  // /proc/self/cgroup: `N:controllers:/path`
  const own = (read('/proc/self/cgroup') ?? '')
    .split('\n')
    .map((line) => line.split(':'))
    .find(([, controllers]) => controllers?.split(',').includes('cpuset'));
  if (!mount || !own) return undefined;
  const ownPath = own.slice(2).join(':');
  if (!ownPath.startsWith(mount.root)) return undefined;
  return path.join(mount.mountPoint, ownPath.slice(mount.root.length));
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function write(file: string, text: string): boolean {
  try {
    writeFileSync(file, text);
    return true;
  } catch {
    return false;
  }
}
