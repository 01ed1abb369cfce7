/**
 * A folder dropped in QM_qJobs and not queued yet shows as settling on `/`,
 * in `/api/jobs` and in the read model within a moment of being dropped, read
 * from the list the active ingest keeps in Redis (reading all of QM_qJobs and
 * the whole name index made the page slow with a long queue); once queued it
 * shows as queued, and the list is empty again. A wiped Redis gets the list
 * again; with no ingest running, the folder itself is read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, dropJob, runQm } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { JobStore } from '../../src/core/jobstore.js';
import { keys, openQueue } from '../../src/core/redis.js';
import { layoutOf } from '../../src/core/folders.js';
import { ReadModel } from '../../src/core/read-model.js';
import { get, startMonitorQm, type MonitorQm } from './harness.js';

interface ApiJobs {
  queued: { total: number; jobs: { name: string; phase: string; arriving: boolean }[] };
}

/** Long enough to look at a folder still settling, short enough to see it queued. */
const SETTLE_S = 4;
/** "within a moment": well inside settle_time */
const SHOWN_WITHIN_MS = 2_000;

describe('settling folders, as the active ingest lists them', () => {
  let redis: TestRedis;
  let m: MonitorQm | undefined;
  let client: Redis;
  let store: JobStore;
  let model: ReadModel;
  const api = async () => JSON.parse((await get(m!.port, '/api/jobs')).text) as ApiJobs;
  const settlingList = () => client.zrange(keys.ingestSettling, 0, -1);

  beforeAll(async () => {
    redis = await TestRedis.start();
    m = await startMonitorQm(redis, { server: { settle_time: SETTLE_S } });
    client = redis.client();
    store = new JobStore(client, openQueue(client), 100);
    model = new ReadModel(store, layoutOf(m.qm.root));
    // nothing starts: a queued job stays queued
    expect((await runQm(['pause', '-c', m.qm.cfg])).code).toBe(0);
  });
  afterAll(async () => {
    if (m) await m.stop();
    await store.close();
    client.disconnect();
    await redis.stop();
  });

  it('a dropped folder shows as settling within a moment, from the ingest\'s list; once queued, as queued', async () => {
    // the ingest has read QM_qJobs through: its list is the one read
    await waitFor(async () => (await model.queued(50)).settlingFrom === 'ingest', { what: 'the ingest\'s list in use' });

    await dropJob(m!.qm, 'arriving', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    const dropped = Date.now();
    const shown = await waitFor(async () => (await api()).queued.jobs.find((j) => j.name === 'arriving'), {
      timeout: SHOWN_WITHIN_MS, interval: 20, what: 'arriving listed',
    });
    expect(Date.now() - dropped).toBeLessThan(SETTLE_S * 1000);
    expect(shown).toMatchObject({ phase: 'settling', arriving: true });
    expect((await api()).queued.total).toBe(1);
    expect((await get(m!.port, '/')).text).toMatch(/data-name="arriving" data-user="" data-state="settling"/);
    const view = await model.queued(50);
    expect(view.settlingFrom).toBe('ingest');
    expect(view.jobs.map((j) => [j.name, j.phase, j.reason])).toEqual([['arriving', 'settling', 'Settling']]);
    expect(view.total).toBe(1);
    expect(await settlingList()).toEqual(['arriving']);

    const queued = await waitFor(async () => (await api()).queued.jobs.find((j) => j.name === 'arriving' && !j.arriving), { what: 'arriving queued' });
    expect(queued.phase).toBe('queued');
    const page = (await get(m!.port, '/')).text;
    expect(page).toMatch(/data-name="arriving" data-user="[^"]*" data-state="queued"/);
    expect(page).not.toMatch(/data-state="settling"/);
    await waitFor(async () => (await settlingList()).length === 0, { timeout: 2_000, what: 'the list empty again' });
    const after = await model.queued(50);
    expect(after.settlingFrom).toBe('ingest');
    expect(after.jobs.map((j) => [j.name, j.phase])).toEqual([['arriving', 'queued']]);
    expect(after.total).toBe(1);
  });

  it('a wiped Redis: the ingest writes its list anew', async () => {
    await client.flushall();
    // (the pause went with it)
    expect((await runQm(['pause', '-c', m!.qm.cfg])).code).toBe(0);
    expect((await model.queued(50)).settlingFrom).toBe('folder');
    // the lease taken again, then the next rescan finds the list gone
    await waitFor(async () => (await model.queued(50)).settlingFrom === 'ingest', { timeout: 15_000, what: 'the ingest\'s list in use again' });
    await dropJob(m!.qm, 'after_wipe', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    await waitFor(async () => (await model.queued(50)).jobs.find((j) => j.name === 'after_wipe' && j.phase === 'settling'), {
      timeout: SHOWN_WITHIN_MS, interval: 20, what: 'after_wipe settling',
    });
    expect(await settlingList()).toEqual(['after_wipe']);
  });

  it('a stopped ingest leaves no list: the folder itself is read', async () => {
    expect(await m!.proc.stop()).toBe(0);
    expect(await client.exists(keys.ingestSettling, keys.ingestSettlingBy)).toBe(0);
    await dropJob(m!.qm, 'unattended', { 'proc_config.cfg': cfgDescriptor({ script: 'true' }) });
    const view = await model.queued(50);
    expect(view.settlingFrom).toBe('folder');
    expect(view.jobs.filter((j) => j.phase === 'settling').map((j) => j.name)).toContain('unattended');
  });
});
