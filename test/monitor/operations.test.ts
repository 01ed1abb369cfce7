/**
 * Issue 16 point 3: the classic page shows why each queued job waits and
 * whose it is, holds, releases and requeues jobs (confirmation + CSRF, under
 * Licence_to_kill), and filters its tables by name, user and state (in
 * Chromium).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import os from 'node:os';
import { chromium, type Browser } from 'playwright-core';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, runQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { formFields, get, postForm, startMonitorQm, type MonitorQm } from './harness.js';

describe('the monitor: reasons, hold, release, requeue, filters', () => {
  let redis: TestRedis;
  let m: MonitorQm;
  const me = os.userInfo().username;
  const qm = (...args: string[]) => runQm([...args, '-c', m.qm.cfg]);
  const row = async (name: string) => {
    const page = (await get(m.port, '/')).text;
    return new RegExp(`<tr data-name="${name}"[^]*?</tr>`).exec(page)?.[0] ?? '';
  };
  /** Runs an action through its confirmation page, as a browser would. */
  async function act(name: string, action: string, id?: string): Promise<string> {
    const confirm = await get(m.port, `/job/${name}/${action}${id ? `?id=${id}` : ''}`);
    expect(confirm.status).toBe(200);
    const form = formFields(confirm.text);
    const done = await postForm(m.port, form.action, { id: form.id, csrf: form.csrf });
    expect(done.status).toBe(303);
    return done.headers.location!;
  }

  beforeAll(async () => {
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { server: { MaxNbProcessors: 1 }, web: { Licence_to_kill: true } });
  });
  afterAll(async () => {
    await m?.stop();
    await redis?.stop();
  });

  it('shows each queued job\'s user and reason; Hold and Release on the page', async () => {
    await qm('pause');
    await dropJob(m.qm, 'alpha', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await dropJob(m.qm, 'beta', { 'proc_config.cfg': cfgDescriptor({ script: 'true', begin: 'now+1hour' }) });
    await waitFor(async () => (await row('alpha')).includes('Paused') && (await row('beta')).includes('BeginTime'), { what: 'alpha Paused, beta BeginTime' });
    expect(await row('alpha')).toMatch(new RegExp(`data-user="${me}" data-state="queued"><td class="num">1</td>[^]*<td>${me}</td>[^]*<td class="reason">Paused</td>`));
    expect((await get(m.port, '/')).text).toContain('The queue is paused (qm pause)');

    expect(await act('alpha', 'hold')).toMatch(/^\/job\/alpha\?id=\S+&note=held$/);
    expect(await row('alpha')).toMatch(/data-state="held">[^]*<td class="reason">Held<\/td>[^]*href="\/job\/alpha\/release\?id=/);
    expect(await row('alpha')).not.toContain('/hold?');
    expect((await get(m.port, '/job/alpha')).text).toMatch(new RegExp(`<dt>Waits</dt><dd>Held</dd><dt>User</dt><dd>${me}</dd>`));
    expect(await act('alpha', 'release')).toMatch(/note=released$/);
    expect(await row('alpha')).toMatch(/<td class="reason">Paused<\/td>/);
    await qm('resume');
    await waitDone(m.qm, 'alpha');
    await qm('cancel', 'beta');
  });

  it('a done job has Requeue: a new run, the old folder kept', async () => {
    await dropJob(m.qm, 'gamma', { 'proc_config.cfg': cfgDescriptor({ script: 'exit 1' }) });
    await waitDone(m.qm, 'gamma');
    await waitFor(async () => (await row('gamma')).includes('/job/gamma/requeue?id='), { what: 'the Requeue button of gamma' });
    const id = /\/job\/gamma\/requeue\?id=([^"&]+)/.exec(await row('gamma'))![1]!;
    expect(await act('gamma', 'requeue', decodeURIComponent(id))).toBe('/job/gamma?note=requeued');
    await waitFor(() => doneEntries(m.qm, 'gamma').length === 2, { what: 'the second run of gamma' });
  });

  it('filters the tables by name, user and state (in a browser)', async () => {
    let browser: Browser | undefined;
    try {
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      const page = await browser.newPage();
      await qm('pause');
      await dropJob(m.qm, 'delta', { 'proc_config.cfg': cfgDescriptor({ script: 'true', hold: 1 }) });
      await waitFor(async () => (await row('delta')).includes('Held'), { what: 'delta held' });
      await page.goto(`${m.url}/`);
      const visible = () => page.locator('tr[data-name]:not([hidden])').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.name));
      expect(await visible()).toEqual(expect.arrayContaining(['delta', 'alpha', 'gamma']));
      await page.fill('#filter-name', 'gam');
      expect(new Set(await visible())).toEqual(new Set(['gamma']));
      await page.fill('#filter-name', '');
      await page.selectOption('#filter-state', 'held');
      expect(await visible()).toEqual(['delta']);
      await page.selectOption('#filter-state', '');
      await page.fill('#filter-user', 'nobody-at-all');
      expect(await visible()).toEqual([]);
      await page.fill('#filter-user', me);
      expect((await visible()).length).toBeGreaterThanOrEqual(4);
      // the filter holds across the page's own refresh
      await page.fill('#filter-user', '');
      await page.selectOption('#filter-state', 'done');
      await qm('release', 'delta');
      await qm('resume');
      await waitDone(m.qm, 'delta');
      await page.locator('tr[data-name="delta"][data-state="done"]').waitFor({ state: 'attached' });
      expect(await visible()).toContain('delta');
      expect(await page.locator('tr[data-state="done"]:not([hidden])').count()).toBe((await visible()).length);
    } finally {
      await browser?.close();
    }
  });
});
