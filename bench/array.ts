/**
 * Section 7: a job array of trivial tasks on an idle `qm start`.
 * 1. queue: one `qm submit --array 1-N` of a script that does nothing, timed
 *    from the command's start to its exit (every task is then queued);
 * 2. run: from the command's exit to the last task's done record: tasks/s;
 * 3. CPU: the command's own, and per task that of `qm start` (with its job
 *    launcher and the tasks' processes) and Redis from its start to the end.
 */
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { keys } from '../src/core/redis.js';
import { qmBin, type Site } from './env.js';
import { waitAllRecorded } from './jobs.js';
import { round3 } from './baseline.js';
import { nowMs } from './wait.js';
import { cpuMeter, reapedChildrenSeconds } from './proc.js';
import type { CpuPerJob } from './report.js';

export interface ArrayResult {
  tasks: number;
  /** `qm submit --array` started → exited, s */
  queueSeconds: number;
  /** user + system CPU of that command, s */
  submitCpuSeconds: number | undefined;
  /** from the command's start to the last record, per task */
  cpu?: CpuPerJob;
  /** the command exited → the last task's done record, s */
  runSeconds: number;
  tasksPerSecond: number;
}

/** `meters` starts counting the CPU of QM's processes and gives it per job at the end. */
export async function arrayRun(site: Site, redis: Redis, tasks: number, meters?: () => (jobs: number) => CpuPerJob): Promise<ArrayResult> {
  const script = path.join(site.staging, 'array-task.sh');
  writeFileSync(script, '#!/bin/sh\n#SBATCH -J bench-array\ntrue\n');
  chmodSync(script, 0o755);
  const recordedBefore = await redis.zcard(keys.done);
  const cpu = meters?.();
  // the command is this process's only child to end meanwhile
  const submitCpu = cpuMeter([process.pid], reapedChildrenSeconds);
  const t0 = nowMs();
  await run([qmBin(), '-c', site.cfg, 'submit', '--array', `1-${tasks}`, script]);
  const queued = nowMs();
  const [submitCpuSeconds] = submitCpu();
  const end = await waitAllRecorded(redis, site, recordedBefore + tasks, Math.max(120_000, tasks * 100));
  const runSeconds = (end - queued) / 1000;
  return {
    tasks, queueSeconds: round3((queued - t0) / 1000), submitCpuSeconds: submitCpuSeconds === undefined ? undefined : round3(submitCpuSeconds),
    runSeconds: round3(runSeconds), tasksPerSecond: Math.round(tasks / runSeconds), ...(cpu && { cpu: cpu(tasks) }),
  };
}

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`qm ${args.slice(3).join(' ')} exited with ${code}: ${stderr.trim()}`))));
  });
}
