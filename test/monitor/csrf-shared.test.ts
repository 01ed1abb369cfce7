/**
 * SPEC §11, issue 17 point 5: monitors on one Redis share their CSRF secret.
 * A confirmation form made by one monitor is accepted by another (two behind
 * a load balancer) and by the same monitor restarted; a monitor on another
 * Redis still refuses it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, makeQmDir, startQm, type QmDir, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { formFields, get, postForm, startMonitorQm, type MonitorQm } from './harness.js';

describe('CSRF secret shared through Redis', () => {
  let redis: TestRedis;
  let qm: QmDir;
  let ingest: QmProcess;
  let main: MonitorQm;
  const monitor = () => startMonitorQm(redis, { command: 'monitor', server: { QM_FOLDER: qm.root }, web: { Delete_Jobs: true } });

  beforeAll(async () => {
    redis = await TestRedis.start();
    // no worker: the jobs stay queued, to be deleted through the monitors
    qm = makeQmDir({ QMServer: { redis_url: redis.url } });
    ingest = startQm(['ingest', '-c', qm.cfg]);
    await ingest.waitForOutput(/watching/);
    main = await monitor();
    for (const name of ['a', 'b']) await dropJob(qm, name, { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await waitFor(async () => (await get(main.port, '/job/b/delete')).status === 200, { what: 'job b queued' });
  });
  afterAll(async () => {
    await main?.stop();
    expect(await ingest?.stop()).toBe(0);
    qm?.cleanup();
    await redis?.stop();
  });

  it('a form made by one monitor is taken by another on the same Redis', async () => {
    const other = await monitor();
    try {
      const form = formFields((await get(main.port, '/job/a/delete')).text);
      const res = await postForm(other.port, form.action, { id: form.id, csrf: form.csrf });
      expect(res.status).toBe(303);
      expect(existsSync(path.join(qm.queued, 'a'))).toBe(false);
    } finally {
      await other.stop();
    }
  });

  it('a form made before a monitor restarts is taken after', async () => {
    const first = await monitor();
    const form = formFields((await get(first.port, '/job/b/delete')).text);
    expect(await first.stop()).toBe(0);
    const restarted = await monitor();
    try {
      const res = await postForm(restarted.port, form.action, { id: form.id, csrf: form.csrf });
      expect(res.status).toBe(303);
      expect(existsSync(path.join(qm.queued, 'b'))).toBe(false);
    } finally {
      await restarted.stop();
    }
  });
});
