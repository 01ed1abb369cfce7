/** Issue 3 point 2: the thread variables a job gets. */
import { describe, expect, it } from 'vitest';
import { jobVariables, type JobRun } from '../../src/worker/run-job.js';
import type { QueuedJob } from '../../src/core/status.js';

const THREAD_VARIABLES = ['NB_PROC', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS', 'SLURM_CPUS_PER_TASK'];

function run(nbProc: number, keys: Record<string, string>): JobRun {
  const job: QueuedJob = {
    name: 'j', script: 'true', format: 'cfg', nbProc: Number(keys.nb_proc ?? nbProc), priority: 0,
    after: [], mailType: [], keys, enqueuedAt: 0, descriptorMtime: 0,
  };
  return { id: 'id1', job, nbProc, cpus: [], gpus: [], memoryMb: 0, hasGpus: false, worker: 'w', host: 'h', startedAt: new Date() };
}

describe('jobVariables', () => {
  it('sets every thread variable to the processors granted', () => {
    const env = jobVariables(run(3, { nb_proc: '3' }), '/d', '/t');
    for (const v of THREAD_VARIABLES) expect(env[v]).toBe('3');
  });

  it('keeps a thread count the descriptor sets itself; NB_PROC stays the processors granted', () => {
    const env = jobVariables(run(4, { nb_proc: '8', omp_num_threads: '1', openblas_num_threads: ' 2 ' }), '/d', '/t');
    expect(env.OMP_NUM_THREADS).toBe('1');
    expect(env.OPENBLAS_NUM_THREADS).toBe('2');
    expect(env.MKL_NUM_THREADS).toBe('4');
    expect(env.NB_PROC).toBe('4');
  });

  it('an empty value in the descriptor counts as not given', () => {
    expect(jobVariables(run(2, { mkl_num_threads: '' }), '/d', '/t').MKL_NUM_THREADS).toBe('2');
  });
});
