/** Issue 14 points 2, 4: the task, GPU and memory variables a job sees. */
import { describe, expect, it } from 'vitest';
import { resourceVariables } from '../../src/worker/resource-env.js';
import type { QueuedJob } from '../../src/core/status.js';

function job(extra: Partial<QueuedJob> = {}): QueuedJob {
  return { name: 'j', script: 'true', format: 'sh', nbProc: 1, priority: 0, after: [], mailType: [], keys: {}, enqueuedAt: 0, descriptorMtime: 0, ...extra };
}

describe('resourceVariables', () => {
  it('tasks: SLURM_NTASKS as asked, cpus per task = granted processors / tasks, at least 1', () => {
    expect(resourceVariables({ job: job({ nbProc: 8, ntasks: 4 }), nbProc: 8, gpus: [], memoryMb: 0, hasGpus: false })).toMatchObject({
      NB_PROC: '8', SLURM_NTASKS: '4', SLURM_NPROCS: '4', SLURM_CPUS_PER_TASK: '2', OMP_NUM_THREADS: '2',
    });
    // clamped to 2 processors: the tasks stay as asked
    expect(resourceVariables({ job: job({ nbProc: 8, ntasks: 4 }), nbProc: 2, gpus: [], memoryMb: 0, hasGpus: false })).toMatchObject({
      NB_PROC: '2', SLURM_NTASKS: '4', SLURM_CPUS_PER_TASK: '1', MKL_NUM_THREADS: '1',
    });
    expect(resourceVariables({ job: job({ nbProc: 3 }), nbProc: 3, gpus: [], memoryMb: 0, hasGpus: false })).toMatchObject({ SLURM_NTASKS: '1', SLURM_CPUS_PER_TASK: '3' });
  });

  it('GPUs: the ids in CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS, QM_GPUS; none: CUDA_VISIBLE_DEVICES empty on a GPU worker, untouched elsewhere', () => {
    expect(resourceVariables({ job: job({ nbGpu: 2 }), nbProc: 1, gpus: ['1', '3'], memoryMb: 0, hasGpus: true })).toMatchObject({
      CUDA_VISIBLE_DEVICES: '1,3', CUDA_DEVICE_ORDER: 'PCI_BUS_ID', SLURM_JOB_GPUS: '1,3', QM_GPUS: '1,3',
    });
    expect(resourceVariables({ job: job(), nbProc: 1, gpus: [], memoryMb: 0, hasGpus: true }).CUDA_VISIBLE_DEVICES).toBe('');
    expect(resourceVariables({ job: job(), nbProc: 1, gpus: [], memoryMb: 0, hasGpus: false })).not.toHaveProperty('CUDA_VISIBLE_DEVICES');
  });

  it('memory: SLURM_MEM_PER_NODE in MB when some is reserved', () => {
    expect(resourceVariables({ job: job({ memoryMb: 512 }), nbProc: 1, gpus: [], memoryMb: 512, hasGpus: false }).SLURM_MEM_PER_NODE).toBe('512');
    expect(resourceVariables({ job: job(), nbProc: 1, gpus: [], memoryMb: 0, hasGpus: false })).not.toHaveProperty('SLURM_MEM_PER_NODE');
  });
});
