/**
 * Issue 6 point 3, the decision for what a wipe can leave: folders in QM_Jobs
 * that no running record names (Redis lost it and their worker is gone). A
 * job that had started goes to QM_lost+found; one that never started (no
 * process.log, or an empty one: no QM header) goes back to QM_qJobs and runs.
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
    // claimed folders whose worker stopped before starting them: before, and after the start's check made an empty process.log
    for (const name of ['never-started', 'checked-only']) {
      await fs.mkdir(path.join(qm.running, name));
      await fs.writeFile(path.join(qm.running, name, 'proc_config.cfg'), cfgDescriptor({ script: 'echo ran' }));
    }
    await fs.writeFile(path.join(qm.running, 'checked-only', 'process.log'), '');
    const entry = await waitFor(() => lostOf(qm, 'was-running')[0], { what: 'was-running in lost+found', timeout: 45_000 });
    expect(reasonOf(qm, entry)).toMatch(/^worker lost: no worker runs it any more/);
    await ingest.waitForOutput(/never-started: claimed by a worker that stopped before starting it: back in QM_qJobs/, 45_000);
    await ingest.waitForOutput(/checked-only: claimed by a worker that stopped before starting it: back in QM_qJobs/, 45_000);
    const worker = startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'late' });
    for (const name of ['never-started', 'checked-only']) {
      const done = await waitDone(qm, name);
      expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toMatch(/^ran$/m);
    }
    await waitFor(() => jobProcesses(qm).length === 0, { what: 'no job process left' });
    for (const p of [ingest, worker]) expect(await p.stop()).toBe(0);
    qm.cleanup();
  });
});
