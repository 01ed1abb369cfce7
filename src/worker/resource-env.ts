/**
 * What a job's environment says of the resources it was given (SPEC §3, §8, §9):
 * 1. processors and tasks: NB_PROC (processors granted), SLURM_NTASKS and
 *    SLURM_NPROCS (tasks as asked), SLURM_CPUS_PER_TASK and the thread
 *    variables (OMP_NUM_THREADS...) = cpus per task: the granted processors
 *    divided by the tasks, at least 1; a thread count the descriptor sets
 *    itself (e.g. omp_num_threads = 1) wins;
 * 2. GPUs: CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS, QM_GPUS, GPU_DEVICE_ORDINAL
 *    (the ids), CUDA_DEVICE_ORDER=PCI_BUS_ID (ids as nvidia-smi numbers
 *    them); a job without GPUs on a worker with some sees CUDA_VISIBLE_DEVICES empty;
 * 3. memory: SLURM_MEM_PER_NODE (MB) when it reserved some.
 */
import type { QueuedJob } from '../core/status.js';
import { THREAD_VARIABLES } from '../core/descriptor-keys.js';

export interface GrantedResources {
  job: QueuedJob;
  /** processors granted (after clamping) */
  nbProc: number;
  gpus: string[];
  /** MB reserved; 0 = none */
  memoryMb: number;
  /** does this worker hand out GPUs? */
  hasGpus: boolean;
}

export function resourceVariables(r: GrantedResources): Record<string, string> {
  const ntasks = r.job.ntasks ?? 1;
  const perTask = Math.max(1, Math.floor(r.nbProc / ntasks));
  const env: Record<string, string> = { NB_PROC: String(r.nbProc), SLURM_NTASKS: String(ntasks), SLURM_NPROCS: String(ntasks) };
  for (const name of THREAD_VARIABLES) env[name] = r.job.keys[name.toLowerCase()]?.trim() || String(perTask);
  if (r.gpus.length > 0) {
    const ids = r.gpus.join(',');
    Object.assign(env, { CUDA_VISIBLE_DEVICES: ids, CUDA_DEVICE_ORDER: 'PCI_BUS_ID', SLURM_JOB_GPUS: ids, GPU_DEVICE_ORDINAL: ids, QM_GPUS: ids });
  } else if (r.hasGpus) {
    env.CUDA_VISIBLE_DEVICES = '';
  }
  if (r.memoryMb > 0) env.SLURM_MEM_PER_NODE = String(r.memoryMb);
  return env;
}
