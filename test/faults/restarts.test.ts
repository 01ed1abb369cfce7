/**
 * Issue 6 points 4-5: `qm start` and `qm worker` restarted with SIGTERM and
 * SIGKILL mid-stream, the embedded Redis killed under a running QM (started
 * again from its append-only file), `shutdown = requeue`. Nothing is lost,
 * nothing runs twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, lostEntries, makeQmDir, startQm, waitDone, type QmDir, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { figure, jobProcesses, keepLogs } from './support.js';

const names = (count: number) => Array.from({ length: count }, (_, i) => `r${String(i).padStart(2, '0')}`);

async function dropAll(qm: QmDir, count: number): Promise<void> {
  for (const name of names(count)) {
    await dropJob(qm, name, { 'proc_config.cfg': cfgDescriptor({ script: `echo $QM_JOB_NAME >> ${qm.base}/runs; sleep 0.3` }) });
  }
}

const ended = (qm: QmDir) => doneEntries(qm).length + lostEntries(qm).length;

/** Each job ended once (done or lost+found), ran at most once, and every done one ran. */
async function expectEachOnce(qm: QmDir, count: number): Promise<{ done: number; lost: number }> {
  await waitFor(() => ended(qm) >= count, { timeout: 90_000, what: `${count} jobs ended` });
  const done = doneEntries(qm).map((e) => e.slice(20));
  const lost = lostEntries(qm).map((e) => e.slice(20));
  expect([...done, ...lost].sort()).toEqual(names(count));
  const runs = readFileSync(path.join(qm.base, 'runs'), 'utf8').trim().split('\n');
  expect(new Set(runs).size).toBe(runs.length);
  for (const name of done) expect(runs).toContain(name);
  for (const entry of lostEntries(qm)) {
    expect(readFileSync(path.join(qm.lost, entry, 'QM_REASON.txt'), 'utf8')).toMatch(/^worker lost: /);
  }
  expect(await fs.readdir(qm.queued)).toEqual([]);
  expect(await fs.readdir(qm.running)).toEqual([]);
  await waitFor(() => jobProcesses(qm).length === 0, { what: 'no job process left' });
  return { done: done.length, lost: lost.length };
}

describe('restarts mid-stream', () => {
  it('qm start: SIGTERM, its embedded Redis killed, SIGKILL, restarted each time', async () => {
    const qm = makeQmDir({ QMServer: { MaxNbProcessors: 2 } });
    const outputs: string[] = [];
    const first = startQm(['start', '-c', qm.cfg]);
    await first.waitForOutput(/watching/);
    await dropAll(qm, 60);
    await waitFor(() => ended(qm) >= 10, { what: '10 jobs ended' });
    first.signal('SIGTERM');
    expect(await first.exited).toBe(0);
    outputs.push(first.output);

    const second = startQm(['start', '-c', qm.cfg]);
    await waitFor(() => ended(qm) >= 20, { what: '20 jobs ended' });
    const redisPid = Number(readFileSync(path.join(qm.root, '.qm', 'redis.pid'), 'utf8'));
    process.kill(redisPid, 'SIGKILL');
    await second.waitForOutput(/embedded redis started again/);
    await waitFor(() => ended(qm) >= 35, { what: '35 jobs ended', timeout: 60_000 });
    second.signal('SIGKILL');
    await second.exited;
    outputs.push(second.output);

    const third = startQm(['start', '-c', qm.cfg]);
    const counts = await expectEachOnce(qm, 60);
    figure('qm start SIGTERM + Redis SIGKILL + SIGKILL: jobs in / done / lost+found', `60 / ${counts.done} / ${counts.lost}`);
    expect(await third.stop()).toBe(0);
    keepLogs('qm-start-restarts', [...outputs, third.output]);
    qm.cleanup();
  });

  describe('qm worker beside a running ingest', () => {
    let redis: TestRedis;
    const procs: QmProcess[] = [];
    beforeAll(async () => {
      redis = await TestRedis.start();
    });
    afterAll(async () => {
      for (const p of procs) if (p.child.exitCode === null) p.signal('SIGKILL');
      await redis.stop();
    });
    const start = (qm: QmDir, role: string, name?: string) => {
      const p = startQm([role, '-c', qm.cfg], name ? { QM_WORKER_NAME: name } : {});
      procs.push(p);
      return p;
    };

    it('a worker stopped with SIGTERM, then killed with SIGKILL, restarted each time under its name', async () => {
      const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/1`, MaxNbProcessors: 2 } });
      const ingest = start(qm, 'ingest');
      const steady = start(qm, 'worker', 'steady');
      let moody = start(qm, 'worker', 'moody');
      await ingest.waitForOutput(/watching/);
      await dropAll(qm, 60);
      await waitFor(() => ended(qm) >= 10, { what: '10 jobs ended' });
      moody.signal('SIGTERM');
      expect(await moody.exited).toBe(0);
      moody = start(qm, 'worker', 'moody');
      await waitFor(() => ended(qm) >= 25, { what: '25 jobs ended' });
      moody.signal('SIGKILL');
      await moody.exited;
      moody = start(qm, 'worker', 'moody');
      const counts = await expectEachOnce(qm, 60);
      figure('qm worker SIGTERM + SIGKILL: jobs in / done / lost+found', `60 / ${counts.done} / ${counts.lost}`);
      for (const p of [ingest, steady, moody]) expect(await p.stop()).toBe(0);
      qm.cleanup();
    });

    it('shutdown = requeue: SIGTERM stops the running job and puts it back; another worker runs it', async () => {
      const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/2`, MaxNbProcessors: 1, shutdown: 'requeue', kill_grace: 1 } });
      const ingest = start(qm, 'ingest');
      const leaving = start(qm, 'worker', 'leaving');
      await leaving.waitForOutput(/ready/);
      const flag = path.join(qm.base, 'flag');
      await dropJob(qm, 'long', {
        'proc_config.cfg': cfgDescriptor({ script: `echo run >> ${qm.base}/runs; while [ ! -e ${flag} ]; do sleep 0.05; done` }),
      });
      await leaving.waitForOutput(/long: started/);
      await waitFor(() => existsSync(path.join(qm.base, 'runs')), { what: 'the first run to begin' });
      leaving.signal('SIGTERM');
      expect(await leaving.exited).toBe(0);
      expect(leaving.output).toMatch(/long: stopped and put back in QM_qJobs/);
      expect(await fs.readdir(qm.queued)).toEqual(['long']);
      expect(doneEntries(qm, 'long')).toEqual([]);

      const staying = start(qm, 'worker', 'staying');
      await staying.waitForOutput(/long: started/);
      await fs.writeFile(flag, '');
      const done = await waitDone(qm, 'long');
      const log = readFileSync(path.join(done, 'process.log'), 'utf8');
      expect(log).toMatch(/Reason: stopped by shutdown \(shutdown = requeue\)\nJob started by QM at: /);
      expect(log.trim().split('\n').at(-1)).toMatch(/with code 0$/);
      expect(readFileSync(path.join(qm.base, 'runs'), 'utf8')).toBe('run\nrun\n');
      expect(doneEntries(qm, 'long')).toHaveLength(1);
      for (const p of [ingest, staying]) expect(await p.stop()).toBe(0);
      qm.cleanup();
    });
  });
});
