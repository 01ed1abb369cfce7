/**
 * Issue 16 point 4, in a real browser: Bull Board's buttons go through QM.
 * Retry of a failed job = qm requeue (a second run in QM_dJobs), Pause =
 * qm pause (nothing starts), Resume, Remove of a waiting job = qm cancel,
 * Promote of a held job = qm release, Clean of a finished job = its record
 * forgotten, its folder kept. Outside its own page (no same-origin request)
 * or for what QM does not do (edit, add), the API refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, runQm, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { basic, request, startMonitorQm, type MonitorQm } from './harness.js';

const ARTIFACTS = path.resolve('test-artifacts');
const PASSWORD = 'board-pw';

describe('Bull Board acts through QM', () => {
  let redis: TestRedis;
  let m: MonitorQm;
  let browser: Browser;
  let page: Page;
  const qm = (...args: string[]) => runQm([...args, '-c', m.qm.cfg]);
  const board = (status: string) => page.goto(`${m.url}/queues/queue/qm?status=${status}`);
  /** The job card's icon buttons: first = Retry (failed) or Promote (delayed), last = Clean (Remove). */
  const cardButtons = () => page.locator('ul[class*=jobActions] li button');
  const confirm = async (question: RegExp) => {
    await page.getByText(question).waitFor();
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
  };
  const queueMenu = async (item: 'Pause' | 'Resume') => {
    await page.locator('main button[aria-haspopup=menu]').first().click();
    await page.getByRole('menuitem', { name: item, exact: true }).click();
    await confirm(new RegExp(`want to ${item.toLowerCase()} queue processing`));
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, {
      server: { MaxNbProcessors: 1 },
      web: { password: PASSWORD, Licence_to_kill: true, Delete_Jobs: true },
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, httpCredentials: { username: 'admin', password: PASSWORD } });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await m?.stop();
    await redis?.stop();
  });

  it('Retry of a failed job is qm requeue: a second run in QM_dJobs, the first folder kept', async () => {
    await dropJob(m.qm, 'crash', { 'proc_config.cfg': cfgDescriptor({ script: 'echo run >> runs.txt; exit 3' }) });
    const first = await waitDone(m.qm, 'crash');
    await board('failed');
    await page.getByText('code 3').first().waitFor();
    await cardButtons().first().click();
    await confirm(/want to retry this job/);
    await waitFor(() => doneEntries(m.qm, 'crash').length === 2, { what: 'a second run of crash' });
    expect(existsSync(first)).toBe(true);
    const second = doneEntries(m.qm, 'crash').map((e) => path.join(m.qm.done, e)).find((f) => f !== first)!;
    expect(readFileSync(path.join(second, 'runs.txt'), 'utf8')).toBe('run\nrun\n');
    expect(readFileSync(path.join(second, 'process.log'), 'utf8').match(/Job started by QM/g)).toHaveLength(1);
    expect(m.proc.output).toMatch(/crash: requeued by \S+ from QM_dJobs\/\S+-crash\n/);
  });

  it('Pause is qm pause: nothing starts; Resume lets it run', async () => {
    await board('active');
    await queueMenu('Pause');
    await waitFor(async () => (await qm('status')).stdout.startsWith('PAUSED'), { what: 'the queue paused' });
    await dropJob(m.qm, 'patient', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await waitFor(async () => JSON.parse((await qm('status', '--json')).stdout).queued.some((q: { name: string; reason: string }) => q.name === 'patient' && q.reason === 'Paused'), { what: 'patient queued, Paused' });
    await expect(waitFor(() => doneEntries(m.qm, 'patient').length > 0 || existsSync(path.join(m.qm.running, 'patient')), { timeout: 3_000 })).rejects.toThrow(/timed out/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'bull-board-paused.png') });
    await board('prioritized');
    await queueMenu('Resume');
    await waitDone(m.qm, 'patient');
  });

  it('Remove of a waiting job is qm cancel; Promote of a held job is qm release', async () => {
    await qm('pause');
    await dropJob(m.qm, 'unwanted', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await waitFor(async () => (await qm('show', 'unwanted')).stdout.includes('State=queued'), { what: 'unwanted queued' });
    await board('prioritized');
    await page.getByText('unwanted').first().waitFor();
    await cardButtons().last().click();
    await confirm(/want to clean this job/);
    const cancelled = await waitDone(m.qm, 'unwanted');
    expect(readFileSync(path.join(cancelled, 'process.log'), 'utf8')).toMatch(/^Job cancelled by Bull Board \(admin\) at: /m);

    await dropJob(m.qm, 'on_hold', { 'proc_config.cfg': cfgDescriptor({ script: 'true', hold: 1 }) });
    await waitFor(async () => (await qm('show', 'on_hold')).stdout.includes('State=held'), { what: 'on_hold held' });
    await qm('resume');
    await board('delayed');
    await page.getByText('on_hold').first().waitFor();
    await page.getByText('held (Held)').first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'bull-board-held.png') });
    await cardButtons().first().click();
    await confirm(/want to promote this job/);
    await waitDone(m.qm, 'on_hold');
  });

  it('Clean of a finished job forgets its record and keeps its folder', async () => {
    await dropJob(m.qm, 'tidy', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    const folder = await waitDone(m.qm, 'tidy');
    const { id } = JSON.parse((await qm('show', 'tidy', '--json')).stdout).job as { id: string };
    // its own page in Bull Board: one card
    await page.goto(`${m.url}/queues/queue/qm/${id}`);
    await page.getByText('tidy').first().waitFor();
    // QM's fields come first in the job's data
    await page.getByRole('tab', { name: 'Data' }).first().click();
    await page.getByText('QM_dJobs/').first().waitFor();
    await cardButtons().last().click();
    await confirm(/want to clean this job/);
    await waitFor(async () => (await qm('show', 'tidy')).code === 1, { what: 'tidy forgotten' });
    expect(existsSync(folder)).toBe(true);
  });

  it('refuses an action that is not a same-origin request, and every change QM does not make', async () => {
    const auth = basic('admin', PASSWORD);
    const [failed] = JSON.parse((await qm('status', '--json')).stdout).done as Array<{ id: string }>;
    const foreign = await request(m.port, 'PUT', `/queues/api/queues/qm/${failed!.id}/retry`, { headers: auth });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.text).error).toBe('Bull Board actions are taken only from its own page (same-origin request)');
    const edit = await request(m.port, 'PATCH', `/queues/api/queues/qm/${failed!.id}/update-data`, {
      headers: { ...auth, origin: m.url, 'content-type': 'application/json' }, body: '{"jobData":{}}',
    });
    expect(edit.status).toBe(403);
    const anonymous = await request(m.port, 'PUT', '/queues/api/queues/qm/pause', { headers: { origin: m.url } });
    expect(anonymous.status).toBe(401);
    expect((await qm('status')).stdout.startsWith('PAUSED')).toBe(false);
  });

  it('without a password its actions are off: no buttons, and its API refuses', async () => {
    const open = await startMonitorQm(redis, { command: 'monitor', web: { Licence_to_kill: true, Delete_Jobs: true } });
    try {
      const refused = await request(open.port, 'PUT', '/queues/api/queues/qm/pause', { headers: { origin: open.url } });
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.text).error).toMatch(/^Bull Board's actions need a password/);
      const anonymousPage = await browser.newPage();
      await anonymousPage.goto(`${open.url}/queues/queue/qm?status=completed`);
      await anonymousPage.getByText('QM job page').first().waitFor();
      expect(await anonymousPage.locator('ul[class*=jobActions] li button').count()).toBe(0);
      await anonymousPage.close();
    } finally {
      await open.stop();
    }
    expect((await qm('status')).stdout.startsWith('PAUSED')).toBe(false);
  });
});
