/**
 * SPEC §11, issue 17 point 3: QM on Redis Sentinel (3 redis-server, 3
 * sentinels on loopback). The primary is killed while 150 jobs flow: the
 * sentinels promote a replica, every QM process follows it, every job runs
 * and ends exactly once, and the pause in job starts is measured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { TestSentinels } from '../helpers/sentinel.js';
import { cfgDescriptor, doneEntries, dropJob, lostEntries, makeQmDir, runQm, startQm, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { figure, keepLogs } from './support.js';

const JOBS = 150;
const jobName = (i: number) => `j${String(i).padStart(3, '0')}`;

/** Lines of the runs file (one per job start) and when it last grew. */
function startsIn(file: string): number {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0;
}

describe('Redis Sentinel', () => {
  let sentinels: TestSentinels;
  const procs: QmProcess[] = [];
  beforeAll(async () => {
    sentinels = await TestSentinels.start();
  });
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null) p.signal('SIGKILL');
    await sentinels?.stop();
  });

  it('the primary killed mid-stream of 150 jobs: a replica takes over, every job runs and ends once', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: sentinels.url, MaxNbProcessors: 4 } });
    const runs = path.join(qm.base, 'runs');
    procs.push(
      startQm(['ingest', '-c', qm.cfg]),
      startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'w1' }),
      startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'w2' }),
    );
    await procs[0]!.waitForOutput(/watching/);
    for (const w of procs.slice(1)) await w.waitForOutput(/ready/);
    for (let i = 0; i < JOBS; i++) {
      await dropJob(qm, jobName(i), { 'proc_config.cfg': cfgDescriptor({ script: `echo $QM_JOB_NAME >> ${runs}; sleep 0.4` }) });
    }
    await waitFor(() => doneEntries(qm).length >= 30, { timeout: 60_000, what: '30 jobs done' });
    const startsAtKill = startsIn(runs);
    const oldPort = await sentinels.killPrimary();
    const killedAt = Date.now();
    const newPort = await sentinels.waitForNewPrimary(oldPort);
    const promotedAt = Date.now();
    // the first job started after the kill: QM works again
    await waitFor(() => startsIn(runs) > startsAtKill, { timeout: 60_000, interval: 20, what: 'a job started after the failover' });
    const resumedAt = Date.now();
    expect(startsAtKill).toBeLessThan(JOBS - 20);

    await waitFor(() => doneEntries(qm).length >= JOBS, { timeout: 120_000, what: `${JOBS} jobs in QM_dJobs` });
    const expected = Array.from({ length: JOBS }, (_, i) => jobName(i));
    expect(readFileSync(runs, 'utf8').trim().split('\n').sort()).toEqual(expected);
    expect(doneEntries(qm).map((e) => e.slice(20)).sort()).toEqual(expected);
    expect(lostEntries(qm)).toEqual([]);
    expect(await fs.readdir(qm.queued)).toEqual([]);
    expect(await fs.readdir(qm.running)).toEqual([]);

    // the new primary knows it: every job recorded once, nothing left running or queued
    const client = await sentinels.primaryClient();
    expect(await client.call('ROLE').then((r) => (r as string[])[0])).toBe('master');
    await waitFor(async () => (await client.zcard('qm:done')) === JOBS, { timeout: 30_000, what: `${JOBS} done records` }).catch(async (err) => {
      const recs = await client.mget(...(await client.zrange('qm:done', 0, -1)).map((id) => `qm:rec:${id}`));
      const names = new Set(recs.map((r) => (r ? (JSON.parse(r) as { name: string }).name : '?')));
      keepLogs(`sentinel-failover-failed-${Date.now()}`, procs.map((p) => p.output));
      throw new Error(`${(err as Error).message}; without a record: ${expected.filter((n) => !names.has(n)).join(' ')}; running ${await client.hlen('qm:running')}\n${await sentinels.describe()}`);
    });
    expect(await client.hlen('qm:running')).toBe(0);
    expect(await client.hlen('qm:names')).toBe(0);
    client.disconnect();

    // client commands find the new primary through the sentinels too
    const status = await runQm(['status', '--json', '-c', qm.cfg]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ queued: [], running: [] });

    figure('Sentinel failover: primary killed → replica promoted', `${((promotedAt - killedAt) / 1000).toFixed(1)} s (port ${oldPort} → ${newPort})`);
    figure('Sentinel failover: primary killed → first job started again', `${((resumedAt - killedAt) / 1000).toFixed(1)} s`);
    figure('Sentinel failover: jobs in / ran once / done once / lost', `${JOBS} / ${JOBS} / ${JOBS} / 0 (${startsAtKill} started before the kill)`);
    for (const p of procs) expect(await p.stop()).toBe(0);
    keepLogs('sentinel-failover', procs.map((p) => p.output));
    expect(statSync(qm.root).isDirectory()).toBe(true);
    qm.cleanup();
  });
});
