/**
 * Issue 14 points 1, 3, 4, end to end with `qm start` on `gpus = 0-3` (there
 * is no GPU here: the ids are handed out all the same): the environment jobs
 * see, no id held by two running jobs at once, a 3-GPU job not starved by a
 * stream of 1-GPU jobs, and a job no worker could hold passed over with its reason.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cfgDescriptor, doneEntries, dropJob, qmStartPerTest, runQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';

const startWith = qmStartPerTest();

/** `start|end <ns> <gpu ids> <name>` lines, appended by each job around its work. */
function gpuTimedScript(file: string, body: string): string {
  return `echo "start $(date +%s%N) $CUDA_VISIBLE_DEVICES $QM_JOB_NAME" >> ${file}; ${body}; echo "end $(date +%s%N) $CUDA_VISIBLE_DEVICES $QM_JOB_NAME" >> ${file}`;
}

interface GpuEvent { kind: string; t: bigint; ids: string[]; name: string }

function readGpuTimeline(file: string): GpuEvent[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((line) => {
    const [kind, t, ids, name] = line.split(' ');
    return { kind: kind!, t: BigInt(t!), ids: ids!.split(','), name: name! };
  }).sort((a, b) => (a.t === b.t ? (a.kind === 'end' ? -1 : 1) : a.t < b.t ? -1 : 1));
}

describe('GPUs', () => {
  it('a job sees its GPU ids (CUDA_VISIBLE_DEVICES, SLURM_JOB_GPUS, QM_GPUS); one asking none sees CUDA_VISIBLE_DEVICES empty', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 4, gpus: '0-3' });
    const show = 'echo "cvd=[${CUDA_VISIBLE_DEVICES-unset}] order=$CUDA_DEVICE_ORDER slurm=$SLURM_JOB_GPUS qm=$QM_GPUS"';
    await dropJob(qm, 'two', { 'proc_config.cfg': cfgDescriptor({ nb_gpu: 2, script: show }) });
    await dropJob(qm, 'none', { 'proc_config.cfg': cfgDescriptor({ script: show }) });
    await dropJob(qm, 'sbatch', { 'job.sh': '#!/bin/bash\n#SBATCH --gres=gpu:1\n' + show + '\n' });
    const two = readFileSync(path.join(await waitDone(qm, 'two'), 'process.log'), 'utf8');
    expect(two).toMatch(/^cvd=\[\d,\d\] order=PCI_BUS_ID slurm=\d,\d qm=\d,\d$/m);
    const ids = /cvd=\[(\d,\d)\]/.exec(two)![1]!;
    expect(two).toContain(`slurm=${ids} qm=${ids}`);
    expect(readFileSync(path.join(await waitDone(qm, 'none'), 'process.log'), 'utf8')).toMatch(/^cvd=\[\] order= slurm= qm=$/m);
    expect(readFileSync(path.join(await waitDone(qm, 'sbatch'), 'process.log'), 'utf8')).toMatch(/^cvd=\[\d\] order=PCI_BUS_ID/m);
  });

  it('qm submit --gpus, --mem and -n ask for GPUs, memory and tasks; a bad value is one clear line', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 8, gpus: '0-3', memory: '1G' });
    const src = path.join(qm.base, 'train.sh');
    writeFileSync(src, '#!/bin/bash\n#SBATCH -c 2\necho "cvd=$CUDA_VISIBLE_DEVICES ntasks=$SLURM_NTASKS cpt=$SLURM_CPUS_PER_TASK nb=$NB_PROC omp=$OMP_NUM_THREADS mem=$SLURM_MEM_PER_NODE"\n');
    const submitted = await runQm(['submit', src, '--gpus', '1', '--mem', '200M', '-n', '2', '--wait', '-c', qm.cfg]);
    expect(submitted.code).toBe(0);
    const log = readFileSync(path.join(await waitDone(qm, 'train'), 'process.log'), 'utf8');
    expect(log).toMatch(/^cvd=\d ntasks=2 cpt=2 nb=4 omp=2 mem=200$/m);
    const tooMany = await runQm(['submit', src, '--gpus', '5', '--name', 'five', '-c', qm.cfg]);
    expect(tooMany.code).toBe(0);
    expect(tooMany.stderr).toBe('qm: warning: five waits: it needs 5 GPUs; the largest worker has 4\n');
    const bad = await runQm(['submit', src, '--mem', 'lots', '-c', qm.cfg]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^qm: --mem "lots": expected a size like 500M or 16G.*\n$/);
  });

  it('no two running jobs share an id, and a 3-GPU job is not starved by a stream of 1-GPU jobs', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 16, gpus: '0-3' });
    const tl = path.join(qm.base, 'timeline');
    const ahead = 5;
    const behind = 10;
    for (let i = 0; i < ahead + behind; i++) {
      if (i === ahead) await dropJob(qm, 'big', { 'proc_config.cfg': cfgDescriptor({ nb_gpu: 3, script: gpuTimedScript(tl, 'sleep 0.3') }) });
      await dropJob(qm, `s${String(i).padStart(2, '0')}`, { 'proc_config.cfg': cfgDescriptor({ nb_gpu: 1, script: gpuTimedScript(tl, 'sleep 0.5') }) });
      if (i !== ahead - 1) await new Promise((r) => setTimeout(r, 100)); // the pace of the stream, not a synchronisation
    }
    await waitFor(() => doneEntries(qm).length === ahead + behind + 1, { what: 'all jobs done', timeout: 40_000 });
    const events = readGpuTimeline(tl);
    // no id is held twice at once, and never more than 4 ids are held
    const held = new Map<string, string>();
    let peak = 0;
    for (const e of events) {
      for (const id of e.ids) {
        if (e.kind === 'start') {
          expect(held.get(id), `GPU ${id} given to ${e.name} while ${held.get(id)} runs`).toBeUndefined();
          held.set(id, e.name);
        } else held.delete(id);
      }
      peak = Math.max(peak, held.size);
    }
    expect(peak).toBe(4);
    expect(events.find((e) => e.name === 'big')!.ids).toHaveLength(3);
    const startOf = (name: string) => events.find((e) => e.kind === 'start' && e.name === name)!.t;
    const bigStart = startOf('big');
    for (let i = 0; i < ahead; i++) expect(startOf(`s0${i}`)).toBeLessThan(bigStart);
    for (let i = ahead; i < ahead + behind; i++) expect(startOf(`s${String(i).padStart(2, '0')}`)).toBeGreaterThan(bigStart);
  });

  it('a job asking more GPUs than any worker has waits with its reason and does not hold back the jobs behind it', async () => {
    const { qm } = await startWith({ MaxNbProcessors: 2, gpus: '0' });
    await dropJob(qm, 'greedy', { 'proc_config.cfg': cfgDescriptor({ nb_gpu: 2, script: 'true' }) });
    await waitFor(async () => (await runQm(['status', '--json', '-c', qm.cfg])).stdout.includes('"greedy"'), { what: 'greedy queued' });
    await dropJob(qm, 'after', { 'proc_config.cfg': cfgDescriptor({ nb_gpu: 1, script: 'true' }) });
    await waitDone(qm, 'after');
    const status = JSON.parse((await runQm(['status', '--json', '-c', qm.cfg])).stdout) as { queued: Array<{ name: string; reason: string }> };
    expect(status.queued.find((q) => q.name === 'greedy')?.reason).toBe('Resources: needs 2 GPUs; the largest worker has 1');
    expect(doneEntries(qm, 'greedy')).toEqual([]);
  });
});
