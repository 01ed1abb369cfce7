/**
 * Issue 4 points 1-6 on the real server: `qm start` (ingest + worker +
 * monitor) and a separate `qm monitor` on a private Redis, real job folders.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, waitDone } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { formFields, get, postForm, progressScript, startMonitorQm, type MonitorQm } from './harness.js';

interface ApiJobs {
  queued: { total: number; jobs: { name: string; position: number; arriving: boolean }[] };
  running: { name: string; id: string; progress?: { done: number; total: number }; reportedTime?: number }[];
  done: { total: number; pages: number; records: { name: string; id: string; outcome: { kind: string; by?: string }; reportedTime?: number }[] };
  workers: { name: string; budget: number }[];
}

const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xff, 0xfe]);

describe('the monitor on qm start', () => {
  let redis: TestRedis;
  let m: MonitorQm;
  let flag: string;
  const api = async () => JSON.parse((await get(m.port, '/api/jobs')).text) as ApiJobs;

  beforeAll(async () => {
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { web: { Licence_to_kill: true, Delete_Jobs: true }, server: { MaxNbProcessors: 1 } });
    flag = path.join(m.qm.base, 'flag');
    await dropJob(m.qm, 'quick', {
      'proc_config.cfg': cfgDescriptor({ script: 'echo "step  1 / 1"; echo "time: 42"; echo "<b>done</b>"', e_mail: 'ann@example.org', info: 'first' }),
      'notes.txt': 'some <b>bold</b> & text\n',
      'data.bin': BINARY,
      'sub/deep.txt': 'deep\n',
    });
    await waitDone(m.qm, 'quick');
    await dropJob(m.qm, 'runner', { 'proc_config.cfg': cfgDescriptor({ script: `echo "time: 5"; ${progressScript(flag)}`, e_mail: 'bob@example.org' }) });
    await waitFor(async () => (await api()).running.some((r) => r.name === 'runner' && r.progress), { what: 'runner running' });
    await dropJob(m.qm, 'waiter_low', { 'proc_config.cfg': cfgDescriptor({ script: 'true', priority: 0 }) });
    await dropJob(m.qm, 'waiter_high', { 'proc_config.cfg': cfgDescriptor({ script: 'true', priority: 5 }) });
    await waitFor(async () => (await api()).queued.jobs.filter((j) => !j.arriving).length === 2, { what: 'two queued jobs' });
  });

  afterAll(async () => {
    writeFileSync(flag, '');
    expect(await m.stop()).toBe(0);
    await redis.stop();
  });

  it('lists queued jobs in run order, the running job with its progress, and done jobs', async () => {
    const jobs = await api();
    expect(jobs.queued.jobs.map((j) => [j.position, j.name])).toEqual([[1, 'waiter_high'], [2, 'waiter_low']]);
    expect(jobs.running.map((r) => [r.name, r.reportedTime])).toEqual([['runner', 5]]);
    expect(jobs.done.records.map((r) => [r.name, r.outcome.kind, r.reportedTime])).toEqual([['quick', 'success', 42]]);
    expect(jobs.workers.map((w) => w.budget)).toEqual([1]);
    const first = jobs.running[0]!.progress!;
    expect(first.total).toBe(1000);
    await waitFor(async () => (await api()).running[0]!.progress!.done > first.done, { what: 'progress to move' });

    const page = (await get(m.port, '/')).text;
    for (const text of ['id="queued"', 'id="running"', 'id="done"', 'waiter_high', 'runner', 'quick', 'bob@example.org', '<progress max="100"']) {
      expect(page).toContain(text);
    }
    expect(page.indexOf('waiter_high')).toBeLessThan(page.indexOf('waiter_low'));
    // the done job's time, from its `time: N` line, where QM 0.4 showed its duration
    expect(page).toMatch(/<th class="num" title="[^"]*">Job's time<\/th>/);
    expect(page).toContain('<td class="num">42 s</td>');
    expect(page).toContain('<span class="muted">time: 5 s</span>');
    expect(page).toContain('1 worker · 1 of 1 processors in use');
    const noDetails = (await get(m.port, '/?details=0')).text;
    expect(noDetails).not.toContain('bob@example.org');
    expect(noDetails).not.toContain('<th>Info</th>');
  });

  it('shows a job page with descriptor values, files and sizes, and its log', async () => {
    const page = (await get(m.port, '/job/quick')).text;
    expect(page).toContain('ann@example.org');
    expect(page).toContain('echo &quot;step  1 / 1&quot;');
    for (const file of ['notes.txt', 'data.bin', 'deep.txt', 'process.log']) expect(page).toContain(file);
    expect(page).toContain('>14 B<');
    expect(page).toContain('&lt;b&gt;done&lt;/b&gt;');
    expect(page).not.toContain('<b>done</b>');
    const queued = (await get(m.port, '/job/waiter_high')).text;
    expect(queued).toContain('<span class="badge">queued</span>');
    expect(queued).toMatch(/<dt>Priority<\/dt><dd>5<\/dd>/);
    const running = (await get(m.port, '/job/runner')).text;
    expect(running).toContain('<span class="badge run">running</span>');
    expect(running).toContain('QM_Jobs/runner');
    const json = JSON.parse((await get(m.port, '/api/jobs/quick')).text) as { state: string; files: { path: string; size: number }[] };
    expect(json.state).toBe('done');
    expect(json.files).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'sub/deep.txt', size: 5 })]));
  });

  it('shows text files escaped and offers binary ones for download', async () => {
    const text = await get(m.port, '/job/quick/view/notes.txt');
    expect(text.status).toBe(200);
    expect(text.text).toContain('some &lt;b&gt;bold&lt;/b&gt; &amp; text');
    const bin = await get(m.port, '/job/quick/view/data.bin');
    expect(bin.text).toContain('This file is not text');
    const dl = await get(m.port, '/job/quick/download/data.bin');
    expect(dl.status).toBe(200);
    expect(dl.headers['content-disposition']).toMatch(/^attachment; filename="data.bin"/);
    expect(dl.headers['content-type']).toBe('application/octet-stream');
    expect(dl.body.equals(BINARY)).toBe(true);
    expect((await get(m.port, '/job/quick/view/sub/deep.txt')).text).toContain('deep');
    expect((await get(m.port, '/job/quick/view/missing.txt')).status).toBe(404);
  });

  it('downloads the whole folder as a zip', async () => {
    const res = await get(m.port, '/job/quick/zip');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-zip-'));
    writeFileSync(path.join(dir, 'job.zip'), res.body);
    execFileSync('unzip', ['-q', 'job.zip'], { cwd: dir });
    const top = doneEntries(m.qm, 'quick')[0]!;
    expect(readFileSync(path.join(dir, top, 'sub/deep.txt'), 'utf8')).toBe('deep\n');
    expect(readFileSync(path.join(dir, top, 'data.bin')).equals(BINARY)).toBe(true);
    expect(readFileSync(path.join(dir, top, 'process.log'), 'utf8')).toMatch(/^Job started by QM at/);
  });

  it('serves the log from an offset, so the page follows it as it grows', async () => {
    const id = (await api()).running[0]!.id;
    type Slice = { state: string; text: string; next: number };
    const first = JSON.parse((await get(m.port, `/job/runner/log?id=${id}&offset=0`)).text) as Slice;
    expect(first.state).toBe('running');
    expect(first.text).toMatch(/^Job started by QM at/);
    const second = await waitFor(async () => {
      const s = JSON.parse((await get(m.port, `/job/runner/log?id=${id}&offset=${first.next}`)).text) as Slice;
      return s.text ? s : undefined;
    });
    expect(second.text).not.toContain('Job started');
    expect(second.text).toMatch(/^ \d+ \/ 1000\n/);
    expect(second.next).toBeGreaterThan(first.next);
    expect((await get(m.port, `/job/runner/log?offset=-5`)).status).toBe(400);
  });

  it('shows per-owner stats over a period', async () => {
    const page = (await get(m.port, '/stats')).text;
    expect(page).toContain('ann@example.org');
    const json = JSON.parse((await get(m.port, '/api/stats?days=1')).text) as { owners: { owner: string; jobs: number }[] };
    expect(json.owners).toEqual([expect.objectContaining({ owner: 'ann@example.org', jobs: 1 })]);
    const bad = await get(m.port, '/stats?from=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('from=yesterday: expected a date like 2026-01-31');
  });

  it('exports Prometheus metrics and health', async () => {
    // the worker's heartbeat (every 2 s) tells its processors in use
    const metrics = await waitFor(async () => {
      const text = (await get(m.port, '/metrics')).text;
      return /^qm_worker_processors_in_use\{.*\} 1$/m.test(text) && text;
    });
    expect(metrics).toMatch(/^qm_jobs\{state="queued"\} 2$/m);
    expect(metrics).toMatch(/^qm_jobs\{state="running"\} 1$/m);
    expect(metrics).toMatch(/^qm_jobs\{state="done"\} 1$/m);
    expect(metrics).toMatch(/^qm_worker_processors_budget\{worker="[^"]+",host="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^qm_worker_processors_in_use\{worker="[^"]+",host="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^qm_job_duration_seconds_count\{outcome="success"\} 1$/m);
    expect(metrics).toMatch(/^# TYPE qm_jobs_finished_total counter$/m);
    expect(metrics).toMatch(/^qm_jobs_finished_total\{outcome="success"\} 1$/m);
    const health = await get(m.port, '/healthz');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.text)).toMatchObject({ ok: true, redis: 'ok', workers: [{ budget: 1 }] });
  });

  it('cancels a queued job and deletes another, each after a confirmation with a CSRF token', async () => {
    const confirm = await get(m.port, '/job/waiter_low/cancel');
    expect(confirm.status).toBe(200);
    const form = formFields(confirm.text);
    expect((await postForm(m.port, form.action, { id: form.id })).status).toBe(403);
    expect((await postForm(m.port, form.action, { id: form.id, csrf: 'forged' })).status).toBe(403);
    const foreign = await postForm(m.port, form.action, { id: form.id, csrf: form.csrf }, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    const done = await postForm(m.port, form.action, { id: form.id, csrf: form.csrf });
    expect(done.status).toBe(303);
    expect(done.headers.location).toMatch(/^\/job\/waiter_low\?id=.*&note=cancelled$/);
    expect(doneEntries(m.qm, 'waiter_low')).toHaveLength(1);
    const record = (await api()).done.records.find((r) => r.name === 'waiter_low');
    expect(record?.outcome).toEqual({ kind: 'cancelled', by: 'monitor' });

    // a token is for one action on one job
    const other = formFields((await get(m.port, '/job/waiter_high/delete')).text);
    expect((await postForm(m.port, other.action.replace('/delete', '/cancel'), { id: other.id, csrf: other.csrf })).status).toBe(403);
    const deleted = await postForm(m.port, other.action, { id: other.id, csrf: other.csrf });
    expect(deleted.status).toBe(303);
    expect(deleted.headers.location).toBe('/?note=deleted');
    expect(existsSync(path.join(m.qm.queued, 'waiter_high'))).toBe(false);
    expect((await api()).queued.jobs).toEqual([]);
    expect((await get(m.port, '/api/jobs/waiter_high')).status).toBe(404);
  });

  it('refuses to delete a running job', async () => {
    const res = await get(m.port, '/job/runner/delete');
    expect(res.status).toBe(409);
    expect(res.text).toContain('kill it before deleting it');
  });

  it('kills a running job from another monitor process, through Redis', async () => {
    const other = await startMonitorQm(redis, { command: 'monitor', web: { Licence_to_kill: true } });
    try {
      const form = formFields((await get(other.port, '/job/runner/kill')).text);
      const res = await postForm(other.port, form.action, { id: form.id, csrf: form.csrf });
      expect(res.status).toBe(303);
      expect(res.headers.location).toContain('note=kill-requested');
      const folder = await waitDone(m.qm, 'runner');
      expect(readFileSync(path.join(folder, 'process.log'), 'utf8')).toContain('Reason: killed by monitor');
      const page = (await get(other.port, res.headers.location!)).text;
      expect(page).toContain('Kill requested');
      expect(page).toContain('killed by monitor');
    } finally {
      await other.stop();
    }
  });

  it('deletes a done job: its folder and its record', async () => {
    const before = (await api()).done.total;
    const form = formFields((await get(m.port, '/job/quick/delete')).text);
    const res = await postForm(m.port, form.action, { id: form.id, csrf: form.csrf });
    expect(res.status).toBe(303);
    expect(doneEntries(m.qm, 'quick')).toEqual([]);
    const after = await api();
    expect(after.done.total).toBe(before - 1);
    expect(after.done.records.map((r) => r.name)).not.toContain('quick');
    expect((await get(m.port, '/job/quick')).status).toBe(404);
  });

  it('mounts Bull Board at /queues with QM\'s title and links back', async () => {
    const res = await get(m.port, '/queues');
    expect(res.status).toBe(200);
    expect(res.text).toContain('"boardTitle":"QM"');
    expect(res.text).toContain('"url":"/stats"');
    // killed above: in Bull Board's Failed tab (with why), not its Completed one
    const tab = async (status: string) => (JSON.parse((await get(m.port, `/queues/api/queues?activeQueue=qm&status=${status}&page=1&jobsPerPage=10`)).text) as {
      queues: { jobs: { name: string; failedReason?: string; externalUrl?: { href: string } }[] }[];
    }).queues[0]!.jobs;
    const runner = (await tab('failed')).find((j) => j.name === 'runner');
    expect(runner?.externalUrl?.href).toMatch(/^\/job\/runner\?id=/);
    expect(runner?.failedReason).toMatch(/^killed by monitor \(code \d+\)$/);
    expect((await tab('completed')).map((j) => j.name)).not.toContain('runner');
  });
});
