/** Issue 2 points 7-8: separate roles on a redis_url, clean stops, restarts without loss or repeats. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, doneEntries, makeQmDir, startQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';

describe('separate roles against redis_url', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('qm ingest and qm worker run as two processes and stop with exit 0', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: redis.url, MaxNbProcessors: 2 } });
    const ingest = startQm(['ingest', '-c', qm.cfg]);
    const worker = startQm(['worker', '-c', qm.cfg]);
    await ingest.waitForOutput(/watching/);
    await worker.waitForOutput(/ready/);
    await dropJob(qm, 'split', { 'proc_config.cfg': cfgDescriptor({ script: 'echo from-worker' }) });
    const done = await waitDone(qm, 'split');
    expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toContain('from-worker');
    expect(await ingest.stop()).toBe(0);
    expect(await worker.stop()).toBe(0);
    qm.cleanup();
  });

  it('a worker stopping waits for its running job; a second signal kills it', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: redis.url, kill_grace: 1 } });
    const ingest = startQm(['ingest', '-c', qm.cfg]);
    const worker = startQm(['worker', '-c', qm.cfg]);
    await worker.waitForOutput(/ready/);
    const flag = path.join(qm.base, 'flag');
    await dropJob(qm, 'waited', {
      'proc_config.cfg': cfgDescriptor({ script: `while [ ! -e ${flag} ]; do sleep 0.05; done; echo finished-normally` }),
    });
    await worker.waitForOutput(/waited: started/);
    worker.signal('SIGTERM');
    await worker.waitForOutput(/stopping/);
    expect(doneEntries(qm, 'waited')).toEqual([]);
    await fs.writeFile(flag, '');
    expect(await worker.exited).toBe(0);
    const done = await waitDone(qm, 'waited');
    expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toContain('finished-normally');

    const worker2 = startQm(['worker', '-c', qm.cfg]);
    await worker2.waitForOutput(/ready/);
    await dropJob(qm, 'endless', { 'proc_config.cfg': cfgDescriptor({ script: 'trap "" TERM; sleep 60' }) });
    await worker2.waitForOutput(/endless: started/);
    worker2.signal('SIGTERM');
    await worker2.waitForOutput(/stopping/);
    worker2.signal('SIGTERM');
    expect(await worker2.exited).toBe(0);
    const killed = await waitDone(qm, 'endless');
    expect(readFileSync(path.join(killed, 'process.log'), 'utf8')).toMatch(/Reason: killed by shutdown/);
    expect(await ingest.stop()).toBe(0);
    qm.cleanup();
  });
});

describe('restart of qm start', () => {
  it('every job runs exactly once across a restart with jobs queued and one running', async () => {
    const qm = makeQmDir({ QMServer: { MaxNbProcessors: 1, launch_type: 'blocking' } });
    const runs = path.join(qm.base, 'runs');
    const flag = path.join(qm.base, 'flag');
    const first = startQm(['start', '-c', qm.cfg]);
    await first.waitForOutput(/watching/);
    await dropJob(qm, 'long', {
      'proc_config.cfg': cfgDescriptor({ script: `echo long >> ${runs}; while [ ! -e ${flag} ]; do sleep 0.05; done` }),
    });
    await first.waitForOutput(/long: started/);
    for (let i = 0; i < 5; i++) {
      await dropJob(qm, `q${i}`, { 'proc_config.cfg': cfgDescriptor({ script: `echo q${i} >> ${runs}` }) });
    }
    await first.waitForOutput(/q4: queued/);
    first.signal('SIGTERM');
    await first.waitForOutput(/stopping/);
    await fs.writeFile(flag, '');
    expect(await first.exited).toBe(0);
    expect(doneEntries(qm, 'long')).toHaveLength(1);

    const second = startQm(['start', '-c', qm.cfg]);
    await waitFor(() => doneEntries(qm).length === 6, { what: 'all 6 jobs done', timeout: 30_000 });
    expect(await second.stop()).toBe(0);
    const lines = readFileSync(runs, 'utf8').trim().split('\n').sort();
    expect(lines).toEqual(['long', 'q0', 'q1', 'q2', 'q3', 'q4']);
    expect(await fs.readdir(qm.queued)).toEqual([]);
    expect(await fs.readdir(qm.running)).toEqual([]);
    qm.cleanup();
  });
});
