/**
 * Issue 14 point 3, end to end: `qm ingest` and three `qm worker` processes
 * with different pools (processors, GPUs, memory) on one Redis and one QM
 * folder. Every job runs exactly once, on a worker that can hold it, and no
 * worker ever runs more than its pools hold; jobs no worker can hold wait.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cfgDescriptor, doneEntries, dropJob, makeQmDir, runQm, startQm, rolesPerTest } from '../helpers/qm.js';
import { TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const cluster = rolesPerTest();

interface Pools { procs: number; gpus: string; memory: number }

const WORKERS: Record<string, Pools> = {
  cpu: { procs: 4, gpus: 'none', memory: 2048 },
  gpu2: { procs: 2, gpus: '0-1', memory: 1024 },
  gpu1: { procs: 2, gpus: '0', memory: 512 },
};

/** `start|end <ns> <worker> <procs> <gpu ids or -> <MB> <name>` lines, appended by each job. */
function poolScript(file: string): string {
  const line = (kind: string) =>
    `echo "${kind} $(date +%s%N) \${QM_RUN_ID%%@*} $NB_PROC \${CUDA_VISIBLE_DEVICES:--} \${SLURM_MEM_PER_NODE:-0} $QM_JOB_NAME" >> ${file}`;
  return `${line('start')}; sleep 0.3; ${line('end')}`;
}

describe('several workers with different pools', () => {
  it('runs every job exactly once, each on a worker that can hold it, never beyond any worker\'s pools', async () => {
    cluster.redis = await TestRedis.start();
    cluster.qm = makeQmDir({ QMServer: { redis_url: cluster.redis.url } });
    const ingest = startQm(['ingest', '-c', cluster.qm.cfg]);
    cluster.procs.push(ingest);
    for (const [name, p] of Object.entries(WORKERS)) {
      cluster.procs.push(startQm(['worker', '-c', cluster.qm.cfg], { QM_WORKER_NAME: name, QM_MAX_NB_PROCESSORS: String(p.procs), QM_GPUS: p.gpus, QM_MEMORY: `${p.memory}M`, QM_PIN_CPUS: 'false' }));
    }
    await ingest.waitForOutput(/watching/);
    for (const [i, name] of Object.keys(WORKERS).entries()) await cluster.procs[i + 1]!.waitForOutput(new RegExp(`worker ${name} ready`));

    const tl = path.join(cluster.qm.base, 'timeline');
    const asks: Array<Record<string, string | number>> = [
      { nb_gpu: 2, memory: '600M' }, { nb_gpu: 1 }, { memory: '1500M', nb_proc: 3 }, {}, { nb_gpu: 1, memory: '400M' },
      { nb_proc: 2 }, { nb_gpu: 2 }, { memory: '900M' }, { nb_gpu: 1, nb_proc: 2 }, { memory: '300M' },
    ];
    const names: string[] = [];
    for (let i = 0; i < 30; i++) {
      const name = `j${String(i).padStart(2, '0')}`;
      names.push(name);
      await dropJob(cluster.qm, name, { 'proc_config.cfg': cfgDescriptor({ ...asks[i % asks.length], script: poolScript(tl) }) });
    }
    // no worker has 3 GPUs: it waits, with its reason, and holds back nothing
    await dropJob(cluster.qm, 'never', { 'proc_config.cfg': cfgDescriptor({ nb_gpu: 3, script: 'true' }) });
    await waitFor(() => names.every((n) => doneEntries(cluster.qm!, n).length > 0), { what: 'all jobs done', timeout: 60_000 });

    // exactly once
    for (const n of names) expect(doneEntries(cluster.qm, n), n).toHaveLength(1);
    const lines = readFileSync(tl, 'utf8').trim().split('\n').map((l) => l.split(' '));
    expect(lines.filter((l) => l[0] === 'start')).toHaveLength(names.length);

    // never beyond a worker's pools, GPU ids never shared on a worker; each job on a worker that could hold it
    const events = lines
      .map(([kind, t, worker, nbProc, gpus, mem, name]) => ({ kind: kind!, t: BigInt(t!), worker: worker!, nbProc: Number(nbProc), gpus: gpus === '-' ? [] : gpus!.split(','), mem: Number(mem), name: name! }))
      .sort((a, b) => (a.t === b.t ? (a.kind === 'end' ? -1 : 1) : a.t < b.t ? -1 : 1));
    const use = new Map(Object.keys(WORKERS).map((w) => [w, { procs: 0, mem: 0, gpus: new Set<string>() }]));
    const ranOn = new Map<string, string>();
    for (const e of events) {
      const u = use.get(e.worker)!;
      const pools = WORKERS[e.worker]!;
      const sign = e.kind === 'start' ? 1 : -1;
      u.procs += sign * e.nbProc;
      u.mem += sign * e.mem;
      for (const id of e.gpus) {
        if (e.kind === 'start') {
          expect(u.gpus.has(id), `GPU ${id} of ${e.worker} given twice (${e.name})`).toBe(false);
          u.gpus.add(id);
        } else u.gpus.delete(id);
      }
      expect(u.procs, `${e.worker} processors`).toBeLessThanOrEqual(pools.procs);
      expect(u.mem, `${e.worker} memory`).toBeLessThanOrEqual(pools.memory);
      if (e.kind === 'start') ranOn.set(e.name, e.worker);
    }
    const gpuJobs = names.filter((_, i) => asks[i % asks.length]!.nb_gpu);
    for (const n of gpuJobs) expect(ranOn.get(n), n).not.toBe('cpu');
    const twoGpuJobs = names.filter((_, i) => asks[i % asks.length]!.nb_gpu === 2);
    for (const n of twoGpuJobs) expect(ranOn.get(n), n).toBe('gpu2');
    expect(new Set(ranOn.values()).size).toBe(3);

    expect(doneEntries(cluster.qm, 'never')).toEqual([]);
    const status = JSON.parse((await runQm(['status', '--json', '-c', cluster.qm.cfg])).stdout) as { queued: Array<{ name: string; reason: string }> };
    expect(status.queued.find((q) => q.name === 'never')?.reason).toBe('Resources: needs 3 GPUs; the largest worker has 2');
  });
});
