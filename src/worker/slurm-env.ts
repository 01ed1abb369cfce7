/**
 * The Slurm side of a job's environment (SPEC §9), beside QM's own (run-job.ts):
 * 1. SLURM_JOB_ID/SLURM_JOBID, SLURM_JOB_NAME (the array's name for a task),
 *    SLURM_SUBMIT_DIR/_HOST, SLURM_JOB_NODELIST/SLURMD_NODENAME,
 *    SLURM_JOB_NUM_NODES=1, the SLURM_ARRAY_* of a task;
 * 2. TMPDIR and SLURM_TMPDIR: a folder of the job's own (tmp-dirs.ts);
 * 3. a small `srun` first on the PATH when the worker's PATH has none (and,
 *    for a bash login shell that sets its own PATH, an exported function).
 * The resource variables (SLURM_NTASKS, SLURM_MEM_PER_NODE, SLURM_JOB_GPUS...)
 * are not set here.
 */
import { accessSync, chmodSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { QueuedJob } from '../core/status.js';
import { SRUN_SCRIPT } from './srun.js';

export interface SlurmFacts {
  /** QM's id of this run's job */
  id: string;
  job: QueuedJob;
  /** the job's folder (QM_Jobs/NAME) */
  dir: string;
  host: string;
  /** the job's temporary folder (tmp-dirs.ts) */
  tmpDir: string;
}

export function slurmVariables(f: SlurmFacts): Record<string, string> {
  const { job } = f;
  const node = f.host.split('.')[0] ?? f.host;
  const env: Record<string, string> = {
    SLURM_JOB_ID: f.id,
    SLURM_JOBID: f.id,
    SLURM_JOB_NAME: job.array?.name ?? job.name,
    SLURM_SUBMIT_DIR: job.submitDir ?? f.dir,
    SLURM_SUBMIT_HOST: job.submitHost ?? f.host,
    SLURM_JOB_NODELIST: node,
    SLURM_NODELIST: node,
    SLURMD_NODENAME: node,
    SLURM_JOB_NUM_NODES: '1',
    SLURM_NNODES: '1',
    SLURM_NODEID: '0',
    SLURM_CLUSTER_NAME: 'qm',
    TMPDIR: f.tmpDir,
    SLURM_TMPDIR: f.tmpDir,
  };
  if (job.owner) {
    env.SLURM_JOB_USER = job.owner.user;
    env.SLURM_JOB_UID = String(job.owner.uid);
    env.SLURM_JOB_GID = String(job.owner.gid);
  }
  const a = job.array;
  if (a) {
    env.SLURM_ARRAY_JOB_ID = a.id;
    env.SLURM_ARRAY_TASK_ID = String(a.index);
    env.SLURM_ARRAY_TASK_COUNT = String(a.count);
    env.SLURM_ARRAY_TASK_MIN = String(a.min);
    env.SLURM_ARRAY_TASK_MAX = String(a.max);
    env.SLURM_ARRAY_TASK_STEP = String(a.step);
  }
  const srun = srunFolder();
  if (srun) env.PATH = `${srun}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`;
  return env;
}

/** undefined: a real srun is on the PATH; otherwise the folder of QM's (written once per process). */
let srunDir: string | null | undefined;

function srunFolder(): string | undefined {
  if (srunDir === undefined) srunDir = hasRealSrun() ? null : writeSrun();
  return srunDir ?? undefined;
}

/**
 * A script's command line (`INTERPRETER ./FILE ARGS`) that also gives a bash
 * login shell (`#!/bin/bash -l`, which sets its PATH anew) QM's srun, as an
 * exported function; passed by `env`, as /bin/sh drops such variables.
 */
export function withSrunFunction(command: string): string {
  const srun = srunFolder();
  if (!srun || !/^\S*bash -l/.test(command)) return command;
  const fn = `() {  ${path.join(srun, 'srun')} "$@"\n}`;
  return `env 'BASH_FUNC_srun%%=${fn.replace(/'/g, `'\\''`)}' ${command}`;
}

function hasRealSrun(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir || '.', 'srun'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function writeSrun(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-srun-'));
  const file = path.join(dir, 'srun');
  writeFileSync(file, SRUN_SCRIPT);
  chmodSync(dir, 0o755);
  chmodSync(file, 0o755);
  return dir;
}
