/**
 * Issue 6 point 3, the decision for what a wipe can leave: folders in QM_Jobs
 * that no running record names (Redis lost it and their worker is gone). A
 * job that had started goes to QM_lost+found; one that never started (no
 * process.log) goes back to QM_qJobs and runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, makeQmDir, startQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { jobProcesses, lostOf, reasonOf } from './support.js';

describe('folders left in QM_Jobs without an owner', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('folders in QM_Jobs that no running record names (Redis lost it, their worker is gone): started → lost+found, never started → requeued', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: redis.url } });
    const ingest = startQm(['ingest', '-c', qm.cfg]);
    const gone = startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'gone' });
    await ingest.waitForOutput(/watching/);
    await dropJob(qm, 'was-running', { 'proc_config.cfg': cfgDescriptor({ script: 'sleep 300' }) });
    await gone.waitForOutput(/was-running: started/);
    // frozen so that it cannot write its running job back, then Redis wiped, then the worker killed
    gone.signal('SIGSTOP');
    await redis.flushall();
    gone.signal('SIGKILL');
    await gone.exited;
    // a claimed folder whose worker stopped before starting it
    await fs.mkdir(path.join(qm.running, 'never-started'));
    await fs.writeFile(path.join(qm.running, 'never-started', 'proc_config.cfg'), cfgDescriptor({ script: 'echo ran' }));
    const entry = await waitFor(() => lostOf(qm, 'was-running')[0], { what: 'was-running in lost+found', timeout: 45_000 });
    expect(reasonOf(qm, entry)).toMatch(/^worker lost: no worker runs it any more/);
    await ingest.waitForOutput(/never-started: claimed by a worker that stopped before starting it: back in QM_qJobs/, 45_000);
    const worker = startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'late' });
    const done = await waitDone(qm, 'never-started');
    expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toMatch(/^ran$/m);
    await waitFor(() => jobProcesses(qm).length === 0, { what: 'no job process left' });
    for (const p of [ingest, worker]) expect(await p.stop()).toBe(0);
    qm.cleanup();
  });
});
