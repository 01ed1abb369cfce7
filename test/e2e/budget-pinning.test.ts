/**
 * Issue 3 points 1-2, end to end with `qm start`: what CPUs and thread
 * variables a job's processes see. Written for a machine with 2 CPUs or more.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cfgDescriptor, dropJob, qmStartPerTest, waitDone, type QmDir, type QmProcess } from '../helpers/qm.js';
import { parseCpuList } from '../../src/core/settings.js';
import { allowedCpus } from '../../src/worker/cpus.js';

const startQmWith = qmStartPerTest();
let proc: QmProcess;

async function startWith(server: Record<string, string | number>, env: NodeJS.ProcessEnv = {}): Promise<QmDir> {
  const started = await startQmWith(server, env);
  proc = started.proc;
  return started.qm;
}

/**
 * A job that writes the CPUs of its script and of a background child, then
 * waits until `count` jobs have reached the same point: they surely overlap.
 */
function cpuProbe(meeting: string, count: number): string {
  return [
    'grep Cpus_allowed_list /proc/self/status > cpus.txt',
    "(sh -c 'grep Cpus_allowed_list /proc/self/status' > child.txt) & wait",
    `touch ${meeting}/$QM_JOB_NAME`,
    `n=0; while [ $(ls ${meeting} | wc -l) -lt ${count} ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done`,
  ].join('; ');
}

function cpusIn(done: string, file: string): number[] {
  return parseCpuList(readFileSync(path.join(done, file), 'utf8').split(/\s+/)[1]!);
}

async function runTogether(q: QmDir, names: string[], nbProc = 1): Promise<Array<{ script: number[]; child: number[] }>> {
  const meeting = path.join(q.base, `meeting-${names[0]}`);
  mkdirSync(meeting);
  for (const name of names) {
    await dropJob(q, name, { 'proc_config.cfg': cfgDescriptor({ nb_proc: nbProc, script: cpuProbe(meeting, names.length) }) });
  }
  const done = await Promise.all(names.map((n) => waitDone(q, n)));
  return done.map((d) => ({ script: cpusIn(d, 'cpus.txt'), child: cpusIn(d, 'child.txt') }));
}

const cpus = allowedCpus();

describe('pinning (pin_cpus auto)', () => {
  it('two jobs running at once each get a CPU of their own, and so do their children', async () => {
    const q = await startWith({ MaxNbProcessors: 2 });
    const [a, b] = await runTogether(q, ['left', 'right']);
    expect(a!.script).toHaveLength(1);
    expect(b!.script).toHaveLength(1);
    expect(a!.script[0]).not.toBe(b!.script[0]);
    expect(a!.child).toEqual(a!.script);
    expect(b!.child).toEqual(b!.script);
    const [both] = await runTogether(q, ['pair'], 2);
    expect(both!.script).toHaveLength(2);
    expect(both!.child).toEqual(both!.script);
    expect(proc.output).not.toMatch(/oversubscription/);
  });

  it('oversubscription (MaxNbProcessors above the CPUs): no pinning, said once', async () => {
    const q = await startWith({ MaxNbProcessors: cpus.length + 2 });
    const seen = await runTogether(q, ['one', 'two', 'three']);
    for (const s of seen) expect(s).toEqual({ script: cpus, child: cpus });
    expect(proc.output.match(/jobs are not pinned \(oversubscription\)/g)).toHaveLength(1);
  });

  it('QM_CPUS gives the worker its CPUs', async () => {
    const last = cpus.at(-1)!;
    const q = await startWith({ MaxNbProcessors: 1 }, { QM_CPUS: String(last) });
    const [seen] = await runTogether(q, ['mine']);
    expect(seen).toEqual({ script: [last], child: [last] });
  });
});

describe('thread variables', () => {
  it('are nb_proc, except one the descriptor sets itself (cfg and #QM directives)', async () => {
    const q = await startWith({ MaxNbProcessors: 2 });
    await dropJob(q, 'mpi', { 'proc_config.cfg': cfgDescriptor({ nb_proc: 2, omp_num_threads: 1, script: 'env > env.txt' }) });
    await dropJob(q, 'slurmish', { 'run.sh': '#!/bin/bash\n#SBATCH -c 2\n#QM mkl_num_threads=1\nenv > env.txt\n' });
    for (const name of ['mpi', 'slurmish']) {
      const env = readFileSync(path.join(await waitDone(q, name), 'env.txt'), 'utf8');
      const own = name === 'mpi' ? 'OMP_NUM_THREADS' : 'MKL_NUM_THREADS';
      expect(env).toContain(`${own}=1\n`);
      for (const v of ['NB_PROC', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS', 'SLURM_CPUS_PER_TASK']) {
        if (v !== own) expect(env).toContain(`${v}=2\n`);
      }
    }
  });
});
