/**
 * Issue 16: a hold lives in the job's folder as well as in Redis, so a wiped
 * Redis (the queue rebuilt from QM_qJobs) does not let a held job run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, runQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { startMonitorQm, type MonitorQm } from '../monitor/harness.js';

describe('qm hold and a wiped Redis', () => {
  let redis: TestRedis;
  let m: MonitorQm;
  const qm = (...args: string[]) => runQm([...args, '-c', m.qm.cfg]);

  beforeAll(async () => {
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { server: { MaxNbProcessors: 1 } });
  });
  afterAll(async () => {
    await m?.stop();
    await redis?.stop();
  });

  it('a job held by qm hold is still held after FLUSHALL, and runs once released', async () => {
    const flag = path.join(m.qm.base, 'go');
    await dropJob(m.qm, 'blocker', { 'proc_config.cfg': cfgDescriptor({ script: `while [ ! -e ${flag} ]; do sleep 0.05; done` }) });
    await waitFor(() => existsSync(path.join(m.qm.running, 'blocker', 'process.log')), { what: 'blocker running' });
    await dropJob(m.qm, 'kept', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await waitFor(async () => (await qm('show', 'kept')).stdout.includes('State=queued'), { what: 'kept queued' });
    expect(await qm('hold', 'kept')).toMatchObject({ code: 0 });
    expect(existsSync(path.join(m.qm.queued, 'kept', '.qm-held'))).toBe(true);

    await redis.flushall();
    // the queue is rebuilt from QM_qJobs: kept again, held again
    await waitFor(async () => (await qm('show', 'kept')).stdout.includes('State=held'), { what: 'kept rebuilt, held', timeout: 30_000 });
    writeFileSync(flag, '');
    await waitDone(m.qm, 'blocker');
    await m.proc.waitForOutput(/kept: held: back to waiting for qm release\n|blocker: finished/);
    expect(doneEntries(m.qm, 'kept')).toEqual([]);
    expect((await qm('show', 'kept')).stdout).toMatch(/\nState=held\n/);

    expect(await qm('release', 'kept')).toMatchObject({ code: 0, stdout: 'kept: released\n' });
    expect(existsSync(path.join(m.qm.queued, 'kept', '.qm-held'))).toBe(false);
    await waitDone(m.qm, 'kept');
  });
});
