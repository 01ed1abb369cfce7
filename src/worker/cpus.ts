/**
 * Which CPUs a worker pins its jobs to (SPEC §3 `pin_cpus`, `cpus`).
 * Pinning is on by default when the budget fits the CPUs this worker may use;
 * when MaxNbProcessors is larger (oversubscription) it is skipped, said once.
 * It needs taskset (util-linux); where this process may make cgroup cpusets
 * a job is put in one instead (cpuset.ts), taskset being the fallback.
 * Either is inherited by every process the job starts.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import type { ServerSettings } from '../core/settings-types.js';
import { parseCpuList } from '../core/settings.js';
import { Cpusets } from './cpuset.js';

/** CPUs this process may run on (its affinity), from /proc; all CPUs elsewhere. */
export function allowedCpus(): number[] {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    if (line) return parseCpuList(line[1]!.trim());
  } catch {
    // not Linux
  }
  return os.cpus().map((_, i) => i);
}

/** The CPUs to hand out to jobs, or [] when jobs are not pinned. */
export function workerCpus(server: ServerSettings, log: Logger): number[] {
  if (server.pinCpus === false) return [];
  const allowed = new Set(allowedCpus());
  const owned = server.cpus ? parseCpuList(server.cpus).filter((c) => allowed.has(c)) : [...allowed];
  if (server.maxNbProcessors > owned.length) {
    log.info(
      `MaxNbProcessors = ${server.maxNbProcessors} exceeds the ${owned.length} CPU(s) this worker may use` +
        `${owned.length ? ` (${owned.join(',')})` : ''}: jobs are not pinned (oversubscription)`,
    );
    return [];
  }
  if (!onPath('taskset')) {
    log.warn('taskset (util-linux) not found: jobs are not pinned');
    return [];
  }
  log.info(`each job is pinned to nb_proc of CPUs ${owned.join(',')} (${Cpusets.open() ? 'cgroup cpuset' : 'taskset'})`);
  return owned;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
