/**
 * The finished jobs a new or wiped Redis does not know are read back from
 * QM_dJobs (SPEC §1: the filesystem is the truth), QM 0.4's among them, so
 * that a user who switches sees them in the done lists.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { layoutOf, type Layout } from '../../src/core/folders.js';
import { JobStore } from '../../src/core/jobstore.js';
import { recordDoneFolders } from '../../src/ingest/done-folders.js';
import { testQueue } from '../helpers/redis.js';
import { makeQmDir, runQm, startQm } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';

/** A folder in QM_dJobs with this process.log (none when undefined), last changed at `mtime`. */
function doneFolder(layout: Layout, entry: string, log: string | undefined, mtime = new Date('2025-05-22T16:00:00Z')): void {
  const dir = path.join(layout.done, entry);
  mkdirSync(dir, { recursive: true });
  if (log !== undefined) writeFileSync(path.join(dir, 'process.log'), log);
  utimesSync(dir, mtime, mtime);
}

// QM 0.4 in blocking mode: its header (print() put two spaces), the job's output, its footer, local times
const QM04_LOG = 'Job started by QM at:  2025-05-22T15:09:00\nprocessing 1 / 2\nprocessing 2 / 2\ntime: 29\nJob finished at: 2025-05-22T15:09:30 with code 0\n';

describe('recordDoneFolders', () => {
  const t = testQueue();
  let store: JobStore;
  let base: string;
  let layout: Layout;

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  beforeEach(async () => {
    await t.redis.flushall();
    if (base) rmSync(base, { recursive: true, force: true });
    base = mkdtempSync(path.join(os.tmpdir(), 'qm-done-folders-'));
    layout = layoutOf(base);
    mkdirSync(layout.done, { recursive: true });
    store = new JobStore(t.redis, t.queue, 100);
  });

  it('reads QM 0.4\'s folders and QM\'s own: name, times, outcome and the job\'s time from process.log', async () => {
    doneFolder(layout, 'test_QM', QM04_LOG);
    // QM 0.4's non-blocking mode wrote no header nor footer
    doneFolder(layout, 'quiet', 'just output\n', new Date('2025-05-21T08:00:00Z'));
    doneFolder(layout, '2026-11-20T10:00:00-fit', 'Job started by QM at: 2026-11-20T09:59:00.000Z\nboom\nJob finished at: 2026-11-20T10:00:00.000Z with code 2\n');
    doneFolder(layout, '2026-11-20T11:00:00-slow', 'Job started by QM at: 2026-11-20T10:59:00.000Z\nJob finished at: 2026-11-20T11:00:00.000Z with code 143\nReason: time limit of 60 s reached\n');
    doneFolder(layout, '2026-11-20T12:00:00-never', 'Job cancelled by qm cancel at: 2026-11-20T12:00:00.000Z before it started\n');
    doneFolder(layout, '.hidden', QM04_LOG);
    writeFileSync(path.join(layout.done, 'stray-file'), '');

    // (these were made just now: none of them is left to a worker here)
    expect(await recordDoneFolders(store, layout, 100, 0)).toBe(5);
    const byName = Object.fromEntries((await store.doneRecords(0, 10)).map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['fit', 'never', 'quiet', 'slow', 'test_QM']);
    expect(byName.test_QM).toMatchObject({
      outcome: { kind: 'success', code: 0 },
      startedAt: new Date('2025-05-22T15:09:00').getTime(),
      endedAt: new Date('2025-05-22T15:09:30').getTime(),
      elapsed: 30,
      reportedTime: 29,
      folder: path.join('QM_dJobs', 'test_QM'),
    });
    expect(byName.quiet).toMatchObject({ outcome: { kind: 'unrecorded' }, endedAt: new Date('2025-05-21T08:00:00Z').getTime() });
    expect(byName.quiet!.startedAt).toBeUndefined();
    expect(byName.fit).toMatchObject({ outcome: { kind: 'failed', code: 2 }, elapsed: 60, folder: path.join('QM_dJobs', '2026-11-20T10:00:00-fit') });
    expect(byName.slow!.outcome).toEqual({ kind: 'timedOut', code: 143, limit: 60 });
    expect(byName.never!.outcome).toEqual({ kind: 'cancelled', by: 'qm cancel' });
    // they do not stand for the names in dependencies (those read the folders)
    expect(await store.lastDone('test_QM')).toBeUndefined();
  });

  it('once per Redis: again after a wipe, never twice for a folder it knows', async () => {
    doneFolder(layout, 'test_QM', QM04_LOG);
    expect(await recordDoneFolders(store, layout, 100)).toBe(1);
    doneFolder(layout, 'later', QM04_LOG);
    expect(await recordDoneFolders(store, layout, 100)).toBe(0);
    await t.redis.flushall();
    expect(await recordDoneFolders(store, layout, 100)).toBe(2);
    expect(await store.doneCount()).toBe(2);
  });

  it('keeps to keep_done, newest first, counting the records already there', async () => {
    for (const day of [1, 2, 3, 4]) doneFolder(layout, `day${day}`, undefined, new Date(`2025-05-0${day}T12:00:00Z`));
    await store.recordEnd({ id: 'x', name: 'recorded', nbProc: 1, priority: 0, endedAt: Date.now(), folder: 'QM_dJobs/elsewhere', outcome: { kind: 'success', code: 0 } });
    expect(await recordDoneFolders(store, layout, 3)).toBe(2);
    expect((await store.doneRecords(0, 10)).map((r) => r.name)).toEqual(['recorded', 'day4', 'day3']);
  });

  it('a worker\'s own record, written late (Redis was away, then wiped), replaces the one read from its folder', async () => {
    doneFolder(layout, '2026-11-20T10:00:00-late', 'Job finished at: 2026-11-20T10:00:00.000Z with code 0\n');
    expect(await recordDoneFolders(store, layout, 100, 0)).toBe(1);
    await store.recordEnd({ id: '42', name: 'late', nbProc: 2, priority: 0, endedAt: Date.parse('2026-11-20T10:00:00Z'), folder: 'QM_dJobs/2026-11-20T10:00:00-late', outcome: { kind: 'success', code: 0 } });
    expect((await store.doneRecords(0, 10)).map((r) => [r.id, r.nbProc])).toEqual([['42', 2]]);
  });

  it('leaves a stamped folder moved in the last minute to the worker that moved it', async () => {
    doneFolder(layout, `2026-11-20T10:00:00-fresh`, 'Job finished at: 2026-11-20T10:00:00.000Z with code 0\n');
    expect(await recordDoneFolders(store, layout, 100)).toBe(0);
  });
});

describe('qm start on the folders of a QM 0.4 user', () => {
  it('lists their finished jobs in qm status', async () => {
    const qm = makeQmDir();
    doneFolder(layoutOf(qm.root), 'test_QM', QM04_LOG);
    const proc = startQm(['start', '-c', qm.cfg]);
    try {
      await proc.waitForOutput(/recorded 1 finished job\(s\) found in .*QM_dJobs without a record/);
      const status = JSON.parse((await runQm(['status', '--json', '-c', qm.cfg])).stdout) as {
        done: { name: string; result: string; reportedSeconds: number | null; folder: string }[];
      };
      expect(status.done).toEqual([expect.objectContaining({ name: 'test_QM', result: 'code 0', reportedSeconds: 29, folder: 'QM_dJobs/test_QM' })]);
      await waitFor(async () => (await runQm(['status', '-c', qm.cfg])).stdout.includes('test_QM'), { what: 'the text status' });
    } finally {
      expect(await proc.stop()).toBe(0);
      qm.cleanup();
    }
  });
});
