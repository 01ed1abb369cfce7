/**
 * Each transition of a job's life (core/lifecycle.ts) on its own, against a
 * real Redis and BullMQ queue and a temp QM folder: where the folder goes,
 * what process.log says, the record, and what Bull Board's tabs show.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ensureLayout, layoutOf, type Layout } from '../../src/core/folders.js';
import { JobStore } from '../../src/core/jobstore.js';
import { Lifecycle, type Held } from '../../src/core/lifecycle.js';
import type { QueuedJob, RunningInfo } from '../../src/core/status.js';
import { testQueue } from '../helpers/redis.js';

const t = testQueue();
let base: string;
let layout: Layout;
let store: JobStore;
let life: Lifecycle;
const log = pino({ level: 'silent' });

beforeEach(async () => {
  await t.redis.flushall();
  if (base) rmSync(base, { recursive: true, force: true });
  base = mkdtempSync(path.join(os.tmpdir(), 'qm-lifecycle-'));
  layout = layoutOf(base);
  await ensureLayout(layout);
  // one store on the test's connection (each one listens to it)
  store ??= new JobStore(t.redis, t.queue, 100);
  life = new Lifecycle(store, layout, log);
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

function jobOf(name: string, over: Partial<QueuedJob> = {}): QueuedJob {
  return {
    name, script: 'true', format: 'cfg', nbProc: 1, priority: 0, after: [], mailType: [], keys: {},
    enqueuedAt: Date.now(), descriptorMtime: Date.now(), email: 'ann@example.org', ...over,
  };
}

/** A folder in QM_qJobs, queued. */
async function queued(name: string, over: Partial<QueuedJob> = {}): Promise<string> {
  mkdirSync(path.join(layout.queued, name));
  writeFileSync(path.join(layout.queued, name, 'data.txt'), 'input\n');
  const id = await life.queue(jobOf(name, over));
  expect(id).toBeDefined();
  return id!;
}

/** The next job as a worker takes it: active under its token. */
async function held(): Promise<Held> {
  const pick = await store.pick({ worker: 'w', token: 'w-token', lockMs: 20_000, free: 8, budget: 8 });
  if (pick.kind !== 'taken') throw new Error(`nothing taken: ${pick.kind}`);
  return { job: pick.job, token: 'w-token' };
}

function infoOf(h: Held, startedAt = Date.now()): RunningInfo {
  return {
    id: h.job.id!, name: h.job.data.name, worker: 'w', instance: 'i1', host: os.hostname(), pid: process.pid, token: h.token,
    nbProc: 1, cpus: [], startedAt, enqueuedAt: h.job.data.enqueuedAt,
  };
}

const only = (dir: string) => {
  const entries = readdirSync(dir);
  expect(entries).toHaveLength(1);
  return path.join(dir, entries[0]!);
};
const logOf = (folder: string) => readFileSync(path.join(folder, 'process.log'), 'utf8');
const state = (id: string) => t.queue.getJobState(id);

describe('queue', () => {
  it('queues one job per name: a second of that name is refused while the first is queued', async () => {
    const id = await queued('a');
    expect(await state(id)).toBe('prioritized');
    expect(await store.queuedId('a')).toBe(id);
    expect(await life.queue(jobOf('a'))).toBeUndefined();
    expect(await t.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(1);
  });

  it('queues the entries that settled together in their order, those with a dependency aside, and refuses a name already queued', async () => {
    await queued('taken');
    const ids = await life.queueAll([jobOf('p1'), jobOf('taken'), jobOf('dep', { after: ['taken'] }), jobOf('p2', { priority: 5 }), jobOf('p3')]);
    expect(ids[1]).toBeUndefined();
    for (const [i, name] of [[0, 'p1'], [2, 'dep'], [3, 'p2'], [4, 'p3']] as const) expect(await store.queuedId(name)).toBe(ids[i]);
    expect(await state(ids[2]!)).toBe('delayed');
    // one BullMQ job per queued name: the refused one was removed
    expect(await t.queue.getJobCountByTypes('prioritized', 'waiting')).toBe(4);
    const order: string[] = [];
    for (let h = await held(); ; h = await held()) {
      order.push(h.job.data.name);
      if (order.length === 4) break;
    }
    // highest priority first, then first in first out
    expect(order).toEqual(['p2', 'taken', 'p1', 'p3']);
  });

  it('puts a job whose dependency is pending aside, and hands it back when that one ends', async () => {
    await queued('first');
    const id = await queued('second', { after: ['first'] });
    expect(await state(id)).toBe('delayed');
    const h = await held();
    expect(await life.claim('first')).toBe('claimed');
    await life.start(infoOf(h));
    await life.finish({ held: h, info: infoOf(h), end: { code: 0, endedAt: new Date(), stop: undefined, leftovers: [] }, cpu: 0, abandoned: false });
    expect(await state(id)).not.toBe('delayed');
  });
});

describe('claim and start', () => {
  it('claims by rename; a busy name and a vanished folder are told apart', async () => {
    await queued('c');
    mkdirSync(path.join(layout.running, 'busy'));
    mkdirSync(path.join(layout.queued, 'busy'));
    writeFileSync(path.join(layout.running, 'busy', 'x'), '');
    expect(await life.claim('busy')).toBe('busy');
    expect(await life.claim('nowhere')).toBe('gone');
    expect(await life.claim('c')).toBe('claimed');
    expect(existsSync(path.join(layout.running, 'c', 'data.txt'))).toBe(true);
  });

  it('start records it as running, and no longer queued under its name', async () => {
    const id = await queued('s');
    const h = await held();
    await life.claim('s');
    await life.start(infoOf(h));
    expect((await store.runningInfo(id))?.name).toBe('s');
    expect(await store.queuedId('s')).toBeUndefined();
  });

  it('a started job whose launcher could not open its process.log goes to QM_lost+found at once, saying so, and fails in BullMQ', async () => {
    const id = await queued('dirlog');
    mkdirSync(path.join(layout.queued, 'dirlog', 'process.log'));
    const h = await held();
    await life.claim('dirlog');
    await life.start(infoOf(h));
    await life.unwritableLog(h, infoOf(h), 'EISDIR');
    const lost = only(layout.lost);
    expect(readFileSync(path.join(lost, 'QM_REASON.txt'), 'utf8')).toMatch(/^process\.log cannot be opened for writing \(EISDIR\)/);
    expect(await state(id)).toBe('failed');
    expect((await store.records([id]))[0]?.outcome).toMatchObject({ kind: 'lost', reason: expect.stringContaining('process.log') });
    expect(await store.runningInfo(id)).toBeUndefined();
  });
});

describe('finish', () => {
  async function run(name: string, code: number, stop?: { kind: 'timedOut'; limit: number }) {
    const id = await queued(name);
    const h = await held();
    await life.claim(name);
    const info = infoOf(h, Date.now() - 1500);
    await life.start(info);
    writeFileSync(path.join(layout.running, name, 'process.log'), 'Job started by QM at: x\nstep 1 / 2\ntime: 7\nno newline');
    const record = await life.finish({ held: h, info, end: { code, endedAt: new Date(), stop, leftovers: [] }, cpu: 0.25, abandoned: false });
    return { id, record: record! };
  }

  it('a success: footer on a line of its own, folder in QM_dJobs, record, Completed in BullMQ', async () => {
    const { id, record } = await run('ok', 0);
    const done = only(layout.done);
    expect(path.basename(done)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-ok$/);
    expect(logOf(done)).toMatch(/no newline\nJob finished at: \S+ with code 0\n$/);
    expect(record).toMatchObject({ id, name: 'ok', outcome: { kind: 'success', code: 0 }, cpu: 0.25, reportedTime: 7, email: 'ann@example.org' });
    expect(record.elapsed).toBeGreaterThan(1);
    expect((await store.lastDone('ok'))?.id).toBe(id);
    expect(await state(id)).toBe('completed');
    expect(await store.runningInfo(id)).toBeUndefined();
    expect(await store.finishedCounts()).toEqual(new Map([['success', 1]]));
  });

  it('a non-zero exit and a timeout are Failed in BullMQ, their outcome as the reason', async () => {
    const failed = await run('bad', 3);
    expect((await t.queue.getJob(failed.id))?.failedReason).toBe('code 3');
    expect(await state(failed.id)).toBe('failed');
    const slow = await run('slow', 143, { kind: 'timedOut', limit: 60 });
    expect((await t.queue.getJob(slow.id))?.failedReason).toBe('timed out after 60 s (code 143)');
    expect(logOf(path.join(base, slow.record.folder))).toMatch(/with code 143\nReason: time limit of 60 s reached\n$/);
    expect(await store.finishedCounts()).toEqual(new Map([['failed', 1], ['timedOut', 1]]));
  });

  it('stopped to be requeued: back in QM_qJobs, the same job waiting again, no record', async () => {
    const id = await queued('again');
    const h = await held();
    await life.claim('again');
    const info = infoOf(h);
    await life.start(info);
    expect(await life.finish({ held: h, info, end: { code: 143, endedAt: new Date(), stop: { kind: 'requeue' }, leftovers: [] }, cpu: 0, abandoned: false })).toBeUndefined();
    expect(existsSync(path.join(layout.queued, 'again', 'data.txt'))).toBe(true);
    expect(await state(id)).toMatch(/waiting|prioritized/);
    expect(await store.queuedId('again')).toBe(id);
    expect(await store.isDone(id)).toBe(false);
  });

  it('trims the records to keep_done', async () => {
    const kept = store;
    store = new JobStore(t.redis, t.queue, 2);
    life = new Lifecycle(store, layout, log);
    for (const name of ['r1', 'r2', 'r3']) await run(name, 0);
    expect((await store.doneRecords(0, 10)).map((r) => r.name)).toEqual(['r3', 'r2']);
    store = kept;
  });
});

describe('ended before it ran', () => {
  it('cancel before start: QM_dJobs with the line, a record, Failed in BullMQ', async () => {
    const id = await queued('cx');
    const record = await life.cancelQueued('cx', 'ann (qm cancel)');
    expect(record).toMatchObject({ id, outcome: { kind: 'cancelled', by: 'ann (qm cancel)' }, email: 'ann@example.org' });
    expect(logOf(only(layout.done))).toMatch(/^Job cancelled by ann \(qm cancel\) at: \S+ before it started\n$/);
    expect(await state(id)).toBe('failed');
    expect((await t.queue.getJob(id))?.failedReason).toBe('cancelled by ann (qm cancel)');
    expect(await life.cancelQueued('cx', 'ann')).toBeUndefined();
  });

  it('not run: the dependency line, QM_dJobs, a record, Failed in BullMQ', async () => {
    const id = await queued('dep');
    const h = await held();
    const record = await life.notRun(h, 'prep', 'code 2');
    expect(record?.outcome).toEqual({ kind: 'dependencyFailed', dependency: 'prep' });
    expect(logOf(only(layout.done))).toMatch(/^Job not run: dependency failed: prep \(code 2\), at: \S+\n$/);
    expect(await state(id)).toBe('failed');
  });

  it('drop: a held job whose folder left is acknowledged as its record says, or removed', async () => {
    const id = await queued('gone');
    const h = await held();
    rmSync(path.join(layout.queued, 'gone'), { recursive: true });
    await life.drop(h);
    expect(await t.queue.getJob(id)).toBeUndefined();
    expect(await store.queuedId('gone')).toBeUndefined();
  });
});

describe('its worker vanished', () => {
  it('lose: `Job lost at:`, QM_REASON.txt, QM_lost+found, a record, Failed with the lost worker\'s token', async () => {
    const id = await queued('lost1');
    const h = await held();
    await life.claim('lost1');
    const info = infoOf(h);
    await life.start(info);
    await life.lose(undefined, info, path.join(layout.running, 'lost1'), 'worker lost: w died');
    const lost = only(layout.lost);
    expect(logOf(lost)).toMatch(/^Job lost at: \S+: worker lost: w died\n$/);
    expect(readFileSync(path.join(lost, 'QM_REASON.txt'), 'utf8')).toBe('worker lost: w died\n');
    expect((await store.records([id]))[0]).toMatchObject({ outcome: { kind: 'lost', reason: 'worker lost: w died' }, worker: 'w' });
    expect(await state(id)).toBe('failed');
  });

  it('put back: the folder in QM_qJobs again, the same job waiting, its requeue counted', async () => {
    const id = await queued('pb');
    const h = await held();
    await life.claim('pb');
    const info = infoOf(h);
    await life.start(info);
    expect(await life.putBack(info, 'worker lost: w died')).toBe(true);
    expect(logOf(path.join(layout.queued, 'pb'))).toMatch(/^Job lost at: \S+: worker lost: w died\n$/);
    expect(await state(id)).toMatch(/waiting|prioritized/);
    expect((await t.queue.getJob(id))?.data.requeues).toBe(1);
    expect(await store.runningInfo(id)).toBeUndefined();
  });
});

describe('delete', () => {
  it('a queued job: its folder and its queue entry', async () => {
    const id = await queued('dq');
    expect(await life.deleteQueued('dq')).toBe(true);
    expect(readdirSync(layout.queued)).toEqual([]);
    expect(await t.queue.getJob(id)).toBeUndefined();
    expect(await life.deleteQueued('dq')).toBe(false);
  });

  it('a done job: its folder, its record and its BullMQ job', async () => {
    const id = await queued('dd');
    const record = (await life.cancelQueued('dd', 'me'))!;
    await life.deleteDone(record, path.join(base, record.folder));
    expect(readdirSync(layout.done)).toEqual([]);
    expect(await store.records([id])).toEqual([]);
    expect(await store.lastDone('dd')).toBeUndefined();
    expect(await t.queue.getJob(id)).toBeUndefined();
  });
});
