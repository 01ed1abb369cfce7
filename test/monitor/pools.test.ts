/**
 * Issue 14 point 1: a worker's pools where users look: /metrics (GPUs, and
 * memory in bytes), the monitor's workers line, and `qm status` (text and JSON).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, runQm } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { get, startMonitorQm, type MonitorQm } from './harness.js';

describe('a worker\'s pools, shown', () => {
  let redis: TestRedis;
  let m: MonitorQm;
  let flag: string;

  beforeAll(async () => {
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { server: { MaxNbProcessors: 4, gpus: '0-3', memory: '2G' } });
    flag = path.join(m.qm.base, 'flag');
    await dropJob(m.qm, 'trainer', { 'proc_config.cfg': cfgDescriptor({ nb_gpu: 2, memory: '1G', script: `while [ ! -e ${flag} ]; do sleep 0.1; done` }) });
  });

  afterAll(async () => {
    writeFileSync(flag, '');
    expect(await m.stop()).toBe(0);
    await redis.stop();
  });

  it('/metrics: GPUs in use and budget, memory in bytes, per worker', async () => {
    const metrics = await waitFor(async () => {
      const text = (await get(m.port, '/metrics')).text;
      return /^qm_worker_gpus_in_use\{.*\} 2$/m.test(text) && text;
    });
    expect(metrics).toMatch(/^qm_worker_gpus_budget\{worker="[^"]+",host="[^"]+"\} 4$/m);
    expect(metrics).toMatch(new RegExp(`^qm_worker_memory_in_use_bytes\\{.*\\} ${1024 ** 3}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^qm_worker_memory_budget_bytes\\{.*\\} ${2 * 1024 ** 3}$`, 'm'));
  });

  it('the monitor\'s workers line, its job page and qm status show the pools and what a job holds', async () => {
    await waitFor(async () => (await get(m.port, '/')).text.includes('GPUs 2/4'), { what: 'GPUs in use on the page' });
    expect((await get(m.port, '/')).text).toMatch(/: 1\/4 · GPUs 2\/4 · 1 GB\/2 GB/);
    const text = (await runQm(['status', '-c', m.qm.cfg])).stdout;
    expect(text).toMatch(/WORKERS \(1\)\n.*\n.* 1\/4 +2\/4 \(0,1,2,3\) +1 GB\/2 GB/);
    const json = JSON.parse((await runQm(['status', '--json', '-c', m.qm.cfg])).stdout) as {
      running: Array<{ name: string; gpus: string[]; memoryMb: number }>;
      workers: Array<{ gpus: { inUse: string[]; ids: string[] }; memoryMb: { inUse: number; total: number } }>;
    };
    expect(json.running[0]).toMatchObject({ name: 'trainer', memoryMb: 1024 });
    expect(json.running[0]!.gpus).toHaveLength(2);
    expect(json.workers[0]).toMatchObject({ gpus: { ids: ['0', '1', '2', '3'] }, memoryMb: { inUse: 1024, total: 2048 } });
    expect(json.workers[0]!.gpus.inUse).toEqual(json.running[0]!.gpus);
    const page = (await get(m.port, '/job/trainer')).text;
    expect(page).toContain(`<dt>GPUs</dt><dd>${json.running[0]!.gpus.join(',')}</dd>`);
    expect(page).toContain('<dt>Memory</dt><dd>1 GB</dd>');
    expect(page).toContain('<dt>User</dt><dd>root</dd>');
  });
});
