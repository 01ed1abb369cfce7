/**
 * Issue 16: a hold lives in the job's folder as well as in Redis, so a wiped
 * Redis (the queue rebuilt from QM_qJobs) does not let a held job run; an
 * array's, and a queued task's, in the array's folder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, runQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { writeScript } from '../helpers/cli.js';
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

  it('an array: qm hold NAME_i holds a task, qm hold NAME every queued task; both outlive FLUSHALL; qm show and qm wait take the array', async () => {
    const flag = path.join(m.qm.base, 'go-array');
    await dropJob(m.qm, 'blocker2', { 'proc_config.cfg': cfgDescriptor({ script: `while [ ! -e ${flag} ]; do sleep 0.05; done` }) });
    await waitFor(() => existsSync(path.join(m.qm.running, 'blocker2', 'process.log')), { what: 'blocker2 running' });
    const script = await writeScript(m.qm, 'sweep.sh', '#!/bin/sh\necho "task $SLURM_ARRAY_TASK_ID"\n');
    expect((await qm('submit', '--array', '1-3', script)).stdout).toBe('sweep\n');
    // a queued task has no folder yet: its hold is a mark in the array's folder
    expect(await qm('hold', 'sweep_2')).toMatchObject({ code: 0, stdout: 'sweep_2: held until qm release\n' });
    expect(await qm('hold', 'sweep')).toMatchObject({ code: 0, stdout: 'sweep: held until qm release: 2 queued task(s) (1 held already or starting)\n' });
    expect((await qm('show', 'sweep')).stdout).toMatch(/^Name=sweep\nId=\S+\nState=array\nTasks=1-3\nCount=3\nQueued=3\n/);

    await redis.flushall();
    for (const task of ['sweep_1', 'sweep_2', 'sweep_3']) {
      await waitFor(async () => (await qm('show', task)).stdout.includes('State=held'), { what: `${task} rebuilt, held`, timeout: 30_000 });
    }
    writeFileSync(flag, '');
    await waitDone(m.qm, 'blocker2');
    expect(await qm('release', 'sweep_2')).toMatchObject({ code: 0, stdout: 'sweep_2: released\n' });
    await waitDone(m.qm, 'sweep_2');
    // the others stay held by the array's hold
    expect((await qm('show', 'sweep_1')).stdout).toMatch(/\nState=held\n/);
    expect(doneEntries(m.qm, 'sweep_1')).toEqual([]);
    expect(await qm('release', 'sweep')).toMatchObject({ code: 0, stdout: 'sweep: released: 2 task(s)\n' });
    expect(await qm('wait', 'sweep')).toMatchObject({ code: 0, stdout: 'sweep ended: 3 task(s), 3 succeeded, 0 did not; worst code 0\n' });
    const late = await qm('hold', 'sweep');
    expect(late.code).not.toBe(0);
    expect(late.stderr).toContain('sweep: no task of the array is queued any more: only queued tasks can be held');
  });
});
