/**
 * Issue 4 point 7, each as a refusal a user (or an attacker) would meet:
 * binding, basic auth, actions off on an open Host, no path out of a job
 * folder, every user text escaped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { JobStore } from '../../src/core/jobstore.js';
import { openQueue } from '../../src/core/redis.js';
import { basic, formFields, get, postForm, progressScript, request, startMonitorQm, type MonitorQm } from './harness.js';

/** An address of this machine that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
}

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

const EVIL = 'x<img src=x onerror=alert(1)>';

describe('monitor security', () => {
  let redis: TestRedis;
  let main: MonitorQm;
  let flag: string;
  /** a monitor on the same QM folder with other [WEB_QMserver] settings */
  const monitorWith = (web: Record<string, string | number | boolean>, env?: NodeJS.ProcessEnv) =>
    startMonitorQm(redis, { command: 'monitor', server: { QM_FOLDER: main.qm.root }, web, env });

  beforeAll(async () => {
    redis = await TestRedis.start();
    main = await startMonitorQm(redis, { web: { Licence_to_kill: true, Delete_Jobs: true } });
    flag = path.join(main.qm.base, 'flag');
    await dropJob(main.qm, 'plain', { 'proc_config.cfg': cfgDescriptor({ script: 'echo ok' }), 'inside.txt': 'inside\n' });
    const folder = await waitDone(main.qm, 'plain');
    const outside = mkdtempSync(path.join(os.tmpdir(), 'qm-outside-'));
    writeFileSync(path.join(outside, 'secret.txt'), 'TOP SECRET\n');
    symlinkSync(path.join(outside, 'secret.txt'), path.join(folder, 'link-to-secret'));
    symlinkSync(outside, path.join(folder, 'link-to-dir'));
    await dropJob(main.qm, EVIL, {
      'proc_config.cfg': cfgDescriptor({
        script: 'echo "<script>alert(3)</script>"',
        info: '<script>alert(2)</script>',
      }),
    });
    await waitDone(main.qm, EVIL);
    await dropJob(main.qm, 'runner', { 'proc_config.cfg': cfgDescriptor({ script: progressScript(flag) }) });
    await waitFor(async () => (await get(main.port, '/job/runner')).text.includes('badge run'), { what: 'runner running' });
  });

  afterAll(async () => {
    writeFileSync(flag, '');
    await main.stop();
    await redis.stop();
  });

  it('binds to Host only', async () => {
    expect(main.proc.output).toContain(`monitor on http://127.0.0.1:${main.port}`);
    expect(await connects('127.0.0.1', main.port)).toBe(true);
    const outside = outsideAddress();
    if (outside) expect(await connects(outside, main.port)).toBe(false);
    const byDefault = await startMonitorQm(redis, { command: 'monitor', server: { QM_FOLDER: main.qm.root }, web: { Host: 'localhost' } });
    try {
      expect(byDefault.proc.output).toContain(`monitor on http://localhost:${byDefault.port}`);
      if (outside) expect(await connects(outside, byDefault.port)).toBe(false);
    } finally {
      await byDefault.stop();
    }
  });

  it('with a password, every route needs basic auth', async () => {
    const m = await monitorWith({ user: 'ann', password: 's3cret', Licence_to_kill: true });
    try {
      const routes = ['/', '/api/jobs', '/api/jobs/plain', '/job/plain', '/job/plain/zip', '/job/plain/view/inside.txt', '/stats',
        '/metrics', '/healthz', '/queues', '/queues/api/queues', '/job/runner/kill', '/nothing-here'];
      for (const route of routes) {
        const none = await get(m.port, route);
        expect(none.status, route).toBe(401);
        expect(none.headers['www-authenticate'], route).toMatch(/^Basic realm="QM"/);
        expect((await get(m.port, route, basic('ann', 'wrong'))).status, route).toBe(401);
        expect((await get(m.port, route, basic('bob', 's3cret'))).status, route).toBe(401);
      }
      expect((await postForm(m.port, '/job/runner/kill', { id: 'x', csrf: 'y' })).status).toBe(401);
      for (const route of ['/', '/api/jobs', '/job/plain', '/stats', '/metrics', '/queues']) {
        expect((await get(m.port, route, basic('ann', 's3cret'))).status, route).toBe(200);
      }
    } finally {
      await m.stop();
    }
  });

  it('the password can come from QM_WEB_PASSWORD, and then actions work on an open Host', async () => {
    const m = await monitorWith({ Host: '0.0.0.0', Licence_to_kill: true }, { QM_WEB_PASSWORD: 'envpw' });
    try {
      expect((await get(m.port, '/')).status).toBe(401);
      const page = await get(m.port, '/job/runner', basic('anyone', 'envpw'));
      expect(page.text).toContain('/kill');
      expect(m.proc.output).not.toContain('are disabled');
    } finally {
      await m.stop();
    }
  });

  it('on a non-loopback Host without a password, actions are off, hidden, refused, and the log says so', async () => {
    const m = await monitorWith({ Host: '0.0.0.0', Licence_to_kill: true, Delete_Jobs: true });
    try {
      await m.proc.waitForOutput(/actions \(cancel, kill, delete\) are disabled: Host 0\.0\.0\.0 is reachable from other machines/);
      const page = (await get(m.port, '/job/runner')).text;
      expect(page).not.toMatch(/href="\/job\/runner\/kill/);
      expect((await get(m.port, '/')).text).not.toMatch(/\/(kill|delete|cancel)[?"]/);
      const confirm = await get(m.port, '/job/runner/kill');
      expect(confirm.status).toBe(403);
      expect(confirm.text).toContain('actions are disabled');
      // even with a valid token from a monitor where actions are on
      const form = formFields((await get(main.port, '/job/plain/delete')).text);
      expect((await postForm(m.port, form.action, { id: form.id, csrf: form.csrf })).status).toBe(403);
      expect((await get(main.port, '/api/jobs/plain')).status).toBe(200);
      expect((await get(m.port, '/api/jobs/runner')).text).toContain('"state":"running"');
    } finally {
      await m.stop();
    }
  });

  it('disabled actions are not shown and are refused on loopback too', async () => {
    const m = await monitorWith({ Licence_to_kill: false, Delete_Jobs: false });
    try {
      expect((await get(m.port, '/job/runner')).text).not.toContain('/kill');
      expect((await get(m.port, '/job/plain')).text).not.toContain('/delete');
      const kill = await get(m.port, '/job/runner/kill');
      expect(kill.status).toBe(403);
      expect(kill.text).toContain('Licence_to_kill = False');
      const del = await postForm(m.port, '/job/plain/delete', { id: '', csrf: '' });
      expect(del.status).toBe(403);
      expect(del.text).toContain('Delete_Jobs = False');
    } finally {
      await m.stop();
    }
  });

  it('never reads outside the job folder: .., encoded slashes, symlinks', async () => {
    const p = main.port;
    for (const raw of ['/job/plain/view/../../../../../../etc/passwd', '/job/plain/view/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      '/job/plain/view/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/job/plain/download/..%2f..%2fQMserv.cfg', '/job/..%2F..%2Fetc/view/passwd',
      '/job/plain/view//etc/passwd', '/job/plain/view/x%5C..%5C..%5Cetc', '/job/plain/view/inside.txt%00.png']) {
      const res = await request(p, 'GET', raw);
      expect(res.status, raw).toBe(400);
      expect(res.text, raw).not.toContain('root:');
    }
    for (const route of ['/job/plain/view/link-to-secret', '/job/plain/download/link-to-secret', '/job/plain/view/link-to-dir/secret.txt',
      '/job/plain/download/link-to-dir/secret.txt']) {
      const res = await get(p, route);
      expect(res.status, route).toBe(404);
      expect(res.text, route).not.toContain('TOP SECRET');
    }
    expect((await get(p, '/job/plain')).text).toContain('link-to-secret');
    const zip = await get(p, '/job/plain/zip');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-zip-'));
    writeFileSync(path.join(dir, 'z.zip'), zip.body);
    const listing = execFileSync('unzip', ['-l', 'z.zip'], { cwd: dir, encoding: 'utf8' });
    expect(listing).toContain('inside.txt');
    expect(listing).not.toContain('secret');
    expect(zip.body.includes('TOP SECRET')).toBe(false);
  });

  it('never follows a record whose folder points outside QM_FOLDER', async () => {
    const client = redis.client();
    const store = new JobStore(client, openQueue(client), 100);
    await store.recordEnd({ id: 'tampered', name: 'tampered', nbProc: 1, priority: 0, endedAt: Date.now(), folder: '../../../../etc',
      outcome: { kind: 'success', code: 0 } });
    await store.close();
    client.disconnect();
    expect((await get(main.port, '/job/tampered/view/passwd')).status).toBe(404);
    expect((await get(main.port, '/job/tampered/zip')).status).toBe(404);
    const page = await get(main.port, '/job/tampered');
    expect(page.status).toBe(200);
    expect(page.text).toContain('outside QM_FOLDER');
    expect(existsSync('/etc/passwd')).toBe(true);
  });

  it('escapes every user text: folder names, info, log lines', async () => {
    const encoded = encodeURIComponent(EVIL);
    for (const route of ['/', `/job/${encoded}`, `/job/${encoded}/view/process.log`, `/job/${encoded}/delete`]) {
      const res = await get(main.port, route);
      expect(res.status, route).toBe(200);
      expect(res.text, route).not.toContain('<img src=x');
      expect(res.text, route).not.toContain('<script>alert');
      expect(res.text, route).toContain('&lt;');
    }
    expect((await get(main.port, `/job/${encoded}`)).text).toContain('x&lt;img src=x onerror=alert(1)&gt;');
    expect((await get(main.port, '/')).headers['content-security-policy']).toMatch(/script-src 'nonce-/);
  });
});
