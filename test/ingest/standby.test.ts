/**
 * SPEC §11, issue 17 point 4: several `qm ingest` on one QM folder. One is
 * active (the lease in Redis), the others log `standby` once; when the active
 * one is killed or stopped another takes over within 10 s; `qm health` names
 * the active one; no job is queued or run twice meanwhile.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, lostEntries, makeQmDir, runQm, startQm, type QmDir, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { figure, signalInside, startElsewhere } from '../faults/support.js';

const TAKEOVER_LIMIT_MS = 10_000;
const jobName = (i: number) => `j${String(i).padStart(3, '0')}`;

describe('standby ingest', () => {
  let redis: TestRedis;
  let qm: QmDir;
  let procs: QmProcess[] = [];
  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterEach(() => {
    for (const p of procs) if (p.child.exitCode === null) p.signal('SIGKILL');
    procs = [];
    qm?.cleanup();
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** The ingest process that logged it holds the lease, once one of them has. */
  async function activeOf(ingests: QmProcess[]): Promise<QmProcess> {
    return waitFor(() => ingests.find((p) => p.child.exitCode === null && /active: (holds|took over)/.test(p.output)), {
      what: 'an active ingest',
    });
  }

  async function health(): Promise<string> {
    const r = await runQm(['health', '-c', qm.cfg]);
    expect(r.code).toBe(0);
    return r.stdout;
  }

  it('one active, the others stand by; a killed or stopped active one is replaced within 10 s; each job runs once', async () => {
    qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/1`, MaxNbProcessors: 4 } });
    const runs = path.join(qm.base, 'runs');
    // the first one as on another machine (a pid namespace of its own): its
    // death is known only by its lease lapsing
    const first = startElsewhere(['ingest', '-c', qm.cfg]);
    await first.waitForOutput(/active: holds the ingest lease/);
    const ingests = [first, startQm(['ingest', '-c', qm.cfg]), startQm(['ingest', '-c', qm.cfg])];
    procs.push(...ingests);
    const worker = startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'w1' });
    procs.push(worker);
    await worker.waitForOutput(/ready/);
    for (const p of ingests.slice(1)) await p.waitForOutput(/standby: the active ingest is \S+ pid 1;/);
    expect(await health()).toMatch(/active ingest \S+ pid 1 since /);
    // only the active one watches QM_qJobs
    expect(ingests.filter((p) => /watching/.test(p.output))).toEqual([first]);

    const drop = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        await dropJob(qm, jobName(i), { 'proc_config.cfg': cfgDescriptor({ script: `echo $QM_JOB_NAME >> ${runs}; sleep 0.1` }) });
      }
    };
    await drop(0, 20);
    await waitFor(() => doneEntries(qm).length >= 5, { what: '5 jobs done' });

    // killed: its lease lapses, a standby takes over
    await signalInside(first, 'SIGKILL');
    const killedAt = Date.now();
    await first.exited;
    await drop(20, 40);
    const second = await activeOf(ingests);
    const killTakeover = Date.now() - killedAt;
    expect(second).not.toBe(first);
    expect(second.output).toMatch(/active: took over the ingest lease/);
    expect(killTakeover).toBeLessThan(TAKEOVER_LIMIT_MS);
    await waitFor(() => doneEntries(qm).length >= 40, { timeout: 30_000, what: '40 jobs done' });

    // the one left standing by says who holds the lease now (it looks once a
    // second: stopped sooner, the second would come and go unseen by it)
    const left = ingests.find((p) => p !== first && p !== second)!;
    await left.waitForOutput(new RegExp(`standby: the active ingest is \\S+ pid ${second.child.pid};`));

    // stopped cleanly: the lease is given back, the last one takes over at once
    const stoppedAt = Date.now();
    second.signal('SIGTERM');
    expect(await second.exited).toBe(0);
    const third = await activeOf(ingests);
    const stopTakeover = Date.now() - stoppedAt;
    expect(third).not.toBe(second);
    expect(third.output).toMatch(new RegExp(`active: took over the ingest lease \\(the last holder seen here: \\S+ pid ${second.child.pid}\\)`));
    await drop(40, 60);
    await waitFor(() => doneEntries(qm).length >= 60, { timeout: 30_000, what: '60 jobs done' });
    expect(await health()).toMatch(new RegExp(`active ingest \\S+ pid ${third.child.pid} since `));

    // each job queued, run and finished once
    const expected = Array.from({ length: 60 }, (_, i) => jobName(i));
    expect(readFileSync(runs, 'utf8').trim().split('\n').sort()).toEqual(expected);
    expect(doneEntries(qm).map((e) => e.slice(20)).sort()).toEqual(expected);
    expect(lostEntries(qm)).toEqual([]);
    expect(await fs.readdir(qm.queued)).toEqual([]);
    // each standby said so once (the holder changed once for the third)
    expect(third.output.match(/standby:/g)).toHaveLength(2);

    figure('ingest takeover after the active one is killed (SIGKILL)', `${(killTakeover / 1000).toFixed(1)} s`);
    figure('ingest takeover after the active one stops (SIGTERM)', `${(stopTakeover / 1000).toFixed(1)} s`);
    expect(await third.stop()).toBe(0);
    expect(await worker.stop()).toBe(0);
    expect(await health()).toMatch(/no active ingest/);
  });

  it('an ingest restarted on the same machine after a kill takes over at once (its old process is gone)', async () => {
    qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/2` } });
    const old = startQm(['ingest', '-c', qm.cfg]);
    procs.push(old);
    await old.waitForOutput(/active: holds the ingest lease/);
    old.signal('SIGKILL');
    await old.exited;
    const restarted = startQm(['ingest', '-c', qm.cfg]);
    procs.push(restarted);
    // at once: because the holder's process is gone, not once its lease ran out (a time bound here failed on a loaded machine)
    await restarted.waitForOutput(/active: took over the ingest lease from .* \(its process is gone\)/);
    expect(restarted.output).not.toMatch(/standby/);
    expect(await restarted.stop()).toBe(0);
  });
});
