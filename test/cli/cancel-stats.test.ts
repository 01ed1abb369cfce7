/**
 * Issue 5 point 3: `qm cancel` and `qm stats`, here against separate
 * `qm ingest` and `qm worker` processes on a redis_url: the kill reaches the
 * worker that runs the job, whichever it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, makeQmDir, runQm, startQm, waitDone, type QmDir, type QmProcess } from '../helpers/qm.js';
import { readLog, writeSource } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

describe('qm cancel and qm stats on a redis_url', () => {
  let redis: TestRedis;
  let qm: QmDir;
  let roles: QmProcess[];
  const qmRun = (...args: string[]) => runQm([...args, '-c', qm.cfg]);
  const submit = async (name: string, options: Record<string, string | number>) => {
    const src = await writeSource(qm, name, { 'proc_config.cfg': cfgDescriptor(options) });
    expect((await qmRun('submit', src)).code).toBe(0);
  };
  const runningNow = (name: string) => waitFor(() => fs.access(path.join(qm.running, name, 'process.log')).then(() => true), { what: `${name} running` });

  beforeAll(async () => {
    redis = await TestRedis.start();
    qm = makeQmDir({ QMServer: { redis_url: redis.url, MaxNbProcessors: 1, kill_grace: 1 } });
    roles = [startQm(['ingest', '-c', qm.cfg]), startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'w1' })];
    await roles[0]!.waitForOutput(/watching/);
    await roles[1]!.waitForOutput(/ready/);
  });
  afterAll(async () => {
    for (const role of roles) expect(await role.stop()).toBe(0);
    qm.cleanup();
    await redis.stop();
  });

  it('cancels a queued job (moved to QM_dJobs, marked cancelled) and kills a running one', async () => {
    await submit('runner', { e_mail: 'ann@example.org', script: 'echo working; sleep 60' });
    await runningNow('runner');
    await submit('waiting', { e_mail: 'ann@example.org', script: 'echo never' });

    const queued = await qmRun('cancel', 'waiting');
    expect(queued.code).toBe(0);
    expect(queued.stdout).toMatch(/^waiting: cancelled before it started → QM_dJobs\/\S+-waiting\n$/);
    const cancelledLog = readLog(await waitDone(qm, 'waiting'));
    expect(cancelledLog).toMatch(/^Job cancelled by \S+ \(qm cancel\) at: \S+ before it started\n$/);

    const running = await qmRun('cancel', 'runner');
    expect(running.stderr).toBe('');
    expect(running.code).toBe(0);
    expect(running.stdout).toMatch(/^runner: killed by \S+ \(qm cancel\) \(code 143\) → QM_dJobs\/\S+-runner\n$/);
    expect(readLog(await waitDone(qm, 'runner'))).toMatch(/working\n(Terminated\n)?Job finished at: \S+ with code 143\nReason: killed by \S+ \(qm cancel\)\n$/);
  });

  it('goes on past a name it cannot cancel, and exits 1', async () => {
    await submit('spinner', { script: 'sleep 60' });
    await runningNow('spinner');
    const { code, stdout, stderr } = await qmRun('cancel', 'nobody', 'waiting', 'spinner');
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^qm: nobody: no such job \(not queued, running or finished\)\nqm: waiting: already finished \(cancelled by \S+ \(qm cancel\)\), nothing to cancel\n$/,
    );
    expect(stdout).toMatch(/^spinner: killed by .* \(code 143\)/);
  });

  it('qm stats: jobs, successes, elapsed and CPU time per owner', async () => {
    // a loop of the shell: CPU time a job really spends, that the stats must add up
    await submit('ann_ok', { e_mail: 'ann@example.org', script: 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done' });
    await submit('bob_fail', { e_mail: 'bob@example.org', script: 'exit 1' });
    await submit('nobody_ok', { script: 'true' });
    await waitDone(qm, 'nobody_ok');
    const json = await qmRun('stats', '--json');
    const { version, owners } = JSON.parse(json.stdout) as { version: number; owners: Record<string, unknown>[] };
    expect(version).toBe(1);
    expect(owners).toEqual([
      expect.objectContaining({ owner: 'ann@example.org', jobs: 3, succeeded: 1, failed: 2 }),
      expect.objectContaining({ owner: null, jobs: 2, succeeded: 1, failed: 1 }),
      expect.objectContaining({ owner: 'bob@example.org', jobs: 1, succeeded: 0, failed: 1 }),
    ]);
    const ann = owners[0] as { elapsedSeconds: number; meanElapsedSeconds: number; cpuSeconds: number };
    // two of ann's three jobs ran (one was cancelled before it started)
    expect(ann.meanElapsedSeconds).toBeCloseTo(ann.elapsedSeconds / 2, 5);
    const annOk = JSON.parse((await qmRun('status', '--json')).stdout).done.find((j: { name: string }) => j.name === 'ann_ok');
    expect(annOk.cpuSeconds).toBeGreaterThan(0.1);
    expect(ann.cpuSeconds).toBeGreaterThanOrEqual(annOk.cpuSeconds);
    const text = (await qmRun('stats')).stdout;
    expect(text).toMatch(/^  OWNER +JOBS +OK +FAILED +ELAPSED +MEAN +CPU +MEAN CPU\n  ann@example\.org +3 +1 +2 +\d+:\d\d +\d+:\d\d +\d+:\d\d +\d+:\d\d\n/);
    expect(text).toMatch(/\n  \(none\) +2 +1 +1 /);
  });
});
