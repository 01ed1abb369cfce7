/**
 * Memory limits by cgroup (SPEC §8), where this process may make cgroups,
 * beside the cpusets of cpuset.ts: one cgroup a run, `qm-mem-RUN`, under
 * this process's own cgroup of the memory hierarchy.
 * 1. cgroup v1: `memory.limit_in_bytes`, and `memory.memsw.limit_in_bytes`
 *    (memory + swap) where the kernel counts swap, so swap adds nothing.
 *    The job's shell joins by writing 0 to its `tasks` file.
 * 2. cgroup v2: `memory.max` and `memory.swap.max = 0`, joined through
 *    `cgroup.procs`. v2 lets a cgroup with processes in it hand no controller
 *    to its children, so the processes of this process's cgroup are first
 *    moved into a leaf of it, `qm-main` (as slurmd does with its `system`).
 * 3. After the run: how many processes the kernel killed for memory in it
 *    (`oom_kill` of memory.oom_control, v1, or of memory.events, v2); then
 *    the cgroup is removed.
 * Where none can be made the job runs without a limit and `why` says so.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readMounts } from '../core/filesystems.js';

export interface MemoryCgroup {
  /** the file the job's shell writes 0 to, to join it */
  joinFile: string;
  /** processes the kernel killed in it for going over the limit */
  oomKills(): number;
  remove(): void;
}

type Version = 1 | 2;

export class MemoryCgroups {
  private constructor(
    private readonly base: string,
    private readonly version: Version,
  ) {}

  /** The memory cgroups this process may make, or why there are none. */
  static open(): MemoryCgroups | { why: string } {
    const v1 = ownDir((m) => m.fsType === 'cgroup' && m.superOptions.includes('memory'), 'memory');
    if (v1) return writable(v1) ? new MemoryCgroups(v1, 1) : { why: `no right to make cgroups in ${v1}` };
    const v2 = ownDir((m) => m.fsType === 'cgroup2', '');
    if (!v2) return { why: 'no memory cgroup hierarchy on this host' };
    if (!writable(v2)) return { why: `no right to make cgroups in ${v2}` };
    const delegated = delegateMemory(v2);
    return delegated === true ? new MemoryCgroups(v2, 2) : { why: delegated };
  }

  /** A cgroup limited to `limitMb` for run `run`, or why it could not be made. */
  make(run: string, limitMb: number): MemoryCgroup | { why: string } {
    const dir = path.join(this.base, `qm-mem-${run.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
    const bytes = String(limitMb * 1024 * 1024);
    try {
      mkdirSync(dir);
      if (this.version === 1) {
        writeFileSync(path.join(dir, 'memory.limit_in_bytes'), bytes);
        const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
        if (existsSync(memsw)) writeFileSync(memsw, bytes);
      } else {
        writeFileSync(path.join(dir, 'memory.max'), bytes);
        const swap = path.join(dir, 'memory.swap.max');
        if (existsSync(swap)) writeFileSync(swap, '0');
      }
    } catch (err) {
      removeDir(dir);
      return { why: `cannot make its cgroup ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
    const [joinFile, counter] = this.version === 1 ? ['tasks', 'memory.oom_control'] : ['cgroup.procs', 'memory.events'];
    return {
      joinFile: path.join(dir, joinFile),
      oomKills: () => Number(/^oom_kill (\d+)$/m.exec(read(path.join(dir, counter)) ?? '')?.[1] ?? 0),
      remove: () => removeDir(dir),
    };
  }
}

/** A cgroup directory is removed once its last process has been reaped: a few tries. */
function removeDir(dir: string, tries = 20): void {
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY' && tries > 0) setTimeout(() => removeDir(dir, tries - 1), 100).unref();
  }
}

/** v2: the memory controller enabled for this cgroup's children, its own processes moved into a leaf first. */
function delegateMemory(base: string): true | string {
  const controllers = read(path.join(base, 'cgroup.controllers')) ?? '';
  if (!controllers.split(/\s+/).includes('memory')) return `the memory controller is not delegated to ${base}`;
  const subtree = path.join(base, 'cgroup.subtree_control');
  if ((read(subtree) ?? '').split(/\s+/).includes('memory')) return true;
  try {
    const leaf = path.join(base, 'qm-main');
    if (!existsSync(leaf)) mkdirSync(leaf);
    for (const pid of (read(path.join(base, 'cgroup.procs')) ?? '').split('\n').filter(Boolean)) {
      writeFileSync(path.join(leaf, 'cgroup.procs'), pid);
    }
    writeFileSync(subtree, '+memory');
    return true;
  } catch (err) {
    return `cannot enable the memory controller in ${base} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
}

/** Where a hierarchy is mounted, joined with this process's cgroup in it (`controller` '' for v2's `0::/path`). */
function ownDir(isMount: (m: ReturnType<typeof readMounts>[number]) => boolean, controller: string): string | undefined {
  const mount = readMounts().find(isMount);
  const own = (read('/proc/self/cgroup') ?? '')
    .split('\n')
    .map((line) => line.split(':'))
    .find(([id, controllers]) => (controller ? controllers?.split(',').includes(controller) : id === '0' && controllers === ''));
  if (!mount || !own) return undefined;
  const ownPath = own.slice(2).join(':');
  if (!ownPath.startsWith(mount.root)) return undefined;
  return path.join(mount.mountPoint, ownPath.slice(mount.root.length));
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
