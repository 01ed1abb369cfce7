/**
 * CPU pinning by cgroup cpuset, where this process may create cgroups (SPEC §3
 * `pin_cpus`): a job's shell moves itself into the cpuset of its CPUs before
 * it starts anything, so the job is pinned without an exec of `taskset`, and
 * cannot widen its own affinity beyond its CPUs (it can with taskset's).
 * 1. The cpusets are children of this process's own cgroup in the cpuset
 *    hierarchy, one per set of CPUs, named `qm-cpus-0-3`; workers of one
 *    cgroup share them. Created when first needed, and again if gone.
 * 2. cgroup v1 (a `cpuset` hierarchy) needs the CPUs and the memory nodes of
 *    each cpuset written; cgroup v2 needs the cpuset controller enabled for
 *    this cgroup's children, which the kernel refuses while the cgroup holds
 *    processes other than the root's: then, or without write access, jobs are
 *    pinned with taskset (runner.ts), as they are if a write fails later.
 * 3. `close` removes the cpusets this process used that are empty.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface Hierarchy {
  version: 1 | 2;
  /** this process's cgroup directory in it */
  base: string;
}

export class Cpusets {
  private readonly made = new Set<string>();

  private constructor(private readonly hierarchy: Hierarchy) {}

  /** The cpusets under this process's cgroup, or undefined when it may not make them. */
  static open(): Cpusets | undefined {
    const hierarchy = findHierarchy();
    if (!hierarchy) return undefined;
    const sets = new Cpusets(hierarchy);
    return sets.prepare() ? sets : undefined;
  }

  /** The `cgroup.procs` file of the cpuset of these CPUs, or undefined if it cannot be made. */
  procsFile(cpus: readonly number[]): string | undefined {
    const dir = path.join(this.hierarchy.base, `qm-cpus-${[...cpus].sort((a, b) => a - b).join('-')}`);
    if (!existsSync(dir) && !this.make(dir, cpus)) return undefined;
    this.made.add(dir);
    return path.join(dir, 'cgroup.procs');
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

  private prepare(): boolean {
    try {
      accessSync(this.hierarchy.base, constants.W_OK);
    } catch {
      return false;
    }
    if (this.hierarchy.version === 1) return true;
    return write(path.join(this.hierarchy.base, 'cgroup.subtree_control'), '+cpuset');
  }

  private make(dir: string, cpus: readonly number[]): boolean {
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    if (this.hierarchy.version === 1) {
      const mems = read(path.join(this.hierarchy.base, 'cpuset.mems'));
      if (!mems || !write(path.join(dir, 'cpuset.mems'), mems)) return false;
    }
    return write(path.join(dir, 'cpuset.cpus'), cpus.join(','));
  }
}

/** Where the cpuset controller is mounted and this process's cgroup in it. */
function findHierarchy(): Hierarchy | undefined {
  const mounts = read('/proc/self/mountinfo');
  const cgroups = read('/proc/self/cgroup');
  if (!mounts || !cgroups) return undefined;
  for (const version of [1, 2] as const) {
    const mount = mountOf(mounts, version);
    const own = ownCgroup(cgroups, version);
    if (!mount || own === undefined || !own.startsWith(mount.root)) continue;
    const base = path.join(mount.point, own.slice(mount.root.length));
    if (version === 2 && !(read(path.join(base, 'cgroup.controllers')) ?? '').split(/\s+/).includes('cpuset')) continue;
    return { version, base };
  }
  return undefined;
}

/** mountinfo: `id parent dev root point options - fstype source superoptions` */
function mountOf(mountinfo: string, version: 1 | 2): { root: string; point: string } | undefined {
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [fstype, , superOptions = ''] = right.split(' ');
    const fields = left.split(' ');
    const matches =
      version === 1 ? fstype === 'cgroup' && superOptions.split(',').includes('cpuset') : fstype === 'cgroup2';
    if (matches) return { root: unescapeMount(fields[3]!), point: unescapeMount(fields[4]!) };
  }
  return undefined;
}

/** /proc/self/cgroup: `N:controllers:/path`, `0::/path` for cgroup v2. */
function ownCgroup(text: string, version: 1 | 2): string | undefined {
  for (const line of text.split('\n')) {
    const [, controllers, ...rest] = line.split(':');
    if (controllers === undefined) continue;
    const matches = version === 1 ? controllers.split(',').includes('cpuset') : line.startsWith('0::');
    if (matches) return rest.join(':');
  }
  return undefined;
}

/** mountinfo writes a space as \040 (and so on) */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
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
