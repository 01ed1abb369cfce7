/**
 * Issue 15 point 1, the monitor: an array is one row of the Arrays table
 * with its counts, its running tasks and its next queued ones linked (each
 * task's own page, a queued one's too); its queued tasks are not listed one
 * by one; the array's name has a page of the array.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { TestRedis } from '../helpers/redis.js';
import { runQm } from '../helpers/qm.js';
import { writeScript } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { get, startMonitorQm, type MonitorQm } from './harness.js';

describe('monitor: arrays', () => {
  let redis: TestRedis;
  let m: MonitorQm;
  beforeAll(async () => {
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { server: { MaxNbProcessors: 2, kill_grace: 1 } });
  });
  afterAll(async () => {
    await runQm(['-c', m.qm.cfg, 'cancel', 'grid']);
    expect(await m.stop()).toBe(0);
    await redis.stop();
  });

  it('shows an array as one row with its counts and links to its tasks', async () => {
    const script = await writeScript(m.qm, 'grid.sh', '#!/bin/sh\n#SBATCH --array=1-20%2\nsleep 30\n');
    expect((await runQm(['-c', m.qm.cfg, 'submit', script])).stdout).toBe('grid\n');
    await waitFor(() => readdirSync(m.qm.running).filter((n) => n.startsWith('grid_')).length === 2, { timeout: 10_000 });
    // a claimed task's folder is in QM_Jobs a moment before it is recorded as running
    const page = await waitFor(async () => {
      const text = (await get(m.port, '/')).body.toString();
      return /<td class="num">18<\/td><td class="num">2<\/td>/.test(text) && text;
    }, { timeout: 10_000, what: 'the array row with 2 tasks running' });
    const row = /<section id="arrays">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
    expect(row).toMatch(/<td class="name">grid<\/td><td>1-20%2<\/td><td class="num">18<\/td><td class="num">2<\/td>/);
    for (const task of ['grid_1', 'grid_2', 'grid_3']) expect(row).toContain(`>${task}</a>`);
    const queued = /<section id="queued">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
    expect(queued).not.toContain('grid_5');
    const task = (await get(m.port, '/job/grid_1')).body.toString();
    expect(task).toContain('grid_1');
    // a queued task, which has no folder yet, has its page too; the array's name shows the array
    expect((await get(m.port, '/job/grid_7')).body.toString()).toMatch(/<h1>grid_7 <span class="badge">queued<\/span><\/h1>/);
    const array = (await get(m.port, '/job/grid')).body.toString();
    expect(array).toMatch(/<h1>grid <span class="badge">array<\/span><\/h1>/);
    expect(array).toContain('array 1-20%2: 18 queued, 2 running, 0 done, 0 failed');
    const api = JSON.parse((await get(m.port, '/api/jobs')).body.toString()) as { arrays: Array<{ name: string; running: number }> };
    expect(api.arrays).toMatchObject([{ name: 'grid', running: 2 }]);
    // Bull Board lists the tasks, each a job of its own
    const board = (await get(m.port, '/queues/api/queues?activeQueue=qm&status=active&page=1')).body.toString();
    expect(board).toContain('"name":"grid_1"');
    expect(board).toContain('"name":"grid_2"');
  });
});
