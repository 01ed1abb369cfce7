/**
 * Issue 4 point 6, /healthz: Redis reachable and roles alive; and the pages
 * when Redis goes away and comes back (503 meanwhile, never a crash).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRedis, freePort } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, makeQmDir, runQm, startQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { get, startMonitorQm, type MonitorQm } from './harness.js';

describe('monitor health', () => {
  let redis: TestRedis;
  let m: MonitorQm;

  beforeAll(async () => {
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { command: 'monitor' });
  });

  afterAll(async () => {
    expect(await m.stop()).toBe(0);
    await redis.stop();
  });

  it('is unhealthy without a live worker, and says why', async () => {
    const res = await get(m.port, '/healthz');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text)).toEqual({ ok: false, redis: 'ok', workers: [], problem: 'no live worker (no heartbeat in Redis)' });
  });

  it('answers 503 while Redis is away, and recovers when it is back', async () => {
    await redis.stopServer();
    const health = await get(m.port, '/healthz');
    expect(health.status).toBe(503);
    expect(JSON.parse(health.text)).toMatchObject({ ok: false, redis: 'unreachable' });
    const page = await get(m.port, '/');
    expect(page.status).toBe(503);
    expect(page.text).toContain('The monitor cannot answer');
    await redis.startServer();
    await waitFor(async () => (await get(m.port, '/')).status === 200, { what: 'the page to come back' });
    expect(m.proc.output).toMatch(/redis unreachable \(monitor\)/);
  });

  it('refuses to start on a port already taken, in one line', async () => {
    const second = await runQm(['monitor', '-c', m.qm.cfg]);
    expect(second.code).toBe(1);
    expect(second.stderr.trim()).toBe(
      `qm: the monitor cannot listen on 127.0.0.1:${m.port} ([WEB_QMserver] Host, The_Port): the port is in use`,
    );
  });

  it('qm start keeps running jobs when its monitor cannot listen', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: redis.url }, WEB_QMserver: { Host: '127.0.0.1', The_Port: m.port } });
    const start = startQm(['start', '-c', qm.cfg]);
    try {
      await start.waitForOutput(/the port is in use; QM runs without its monitor/);
      await dropJob(qm, 'still_runs', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
      await waitDone(qm, 'still_runs');
    } finally {
      expect(await start.stop()).toBe(0);
      qm.cleanup();
    }
  });

  it('qm monitor without redis_url needs a running qm start on the folder', async () => {
    const qm = makeQmDir({ WEB_QMserver: { Host: '127.0.0.1', The_Port: m.port } });
    const res = await runQm(['monitor', '-c', qm.cfg]);
    qm.cleanup();
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^qm: QM is not running on .* \(no embedded Redis at .*redis\.sock\): start it with "qm start", or set redis_url\n$/);
  });

  it('qm monitor alone watches the embedded Redis of a running qm start', async () => {
    const qm = makeQmDir({ WEB_QMserver: { Host: '127.0.0.1', The_Port: await freePort() } });
    const start = startQm(['start', '-c', qm.cfg]);
    const port = await freePort();
    const cfg = makeQmDir({ QMServer: { QM_FOLDER: qm.root }, WEB_QMserver: { Host: '127.0.0.1', The_Port: port } });
    try {
      await start.waitForOutput(/QM running/);
      const monitor = startQm(['monitor', '-c', cfg.cfg]);
      await monitor.waitForOutput(/monitor on http/);
      await dropJob(qm, 'seen', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
      await waitDone(qm, 'seen');
      await waitFor(async () => (await get(port, '/api/jobs/seen')).text.includes('"state":"done"'), { what: 'the job in the lone monitor' });
      expect(await monitor.stop()).toBe(0);
    } finally {
      expect(await start.stop()).toBe(0);
      qm.cleanup();
      cfg.cleanup();
    }
  });
});
