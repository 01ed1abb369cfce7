/**
 * Issue 7 point 5, on real mounts: job folders split over filesystems are
 * refused at start in one line; on an overlay (like NFS, no file events from
 * elsewhere) ingest says to poll, and `watch_mode = polling` runs the jobs;
 * no record in Redis holds a path of the machine that wrote it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isNetworkOrOverlay, mountOf, readMounts } from '../../src/core/filesystems.js';
import { cfgDescriptor, doneEntries, dropJob, lostEntries, makeQmDir, runQm, startQm, waitDone, type QmDir } from '../helpers/qm.js';
import { TestRedis, freePort } from '../helpers/redis.js';
import { Mounts, canMount } from './mounts.js';
import { redisText } from './redis-dump.js';

const mountable = canMount();
if (!mountable) console.warn('cannot mount here (not root?): the storage tests on real mounts are skipped');

describe('mount table', () => {
  it('tells NFS, SMB and overlay mounts from local ones, mount points with spaces included', () => {
    const mounts = readMounts(
      [
        '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
        '50 27 0:51 / /srv/qm\\040share rw,relatime shared:1 - nfs4 fs1:/export/qm rw,vers=4.2',
        '51 27 0:52 / /mnt/smb rw - cifs //fs2/qm rw',
      ].join('\n'),
    );
    expect(mountOf('/srv/qm share/QM_qJobs', mounts)).toMatchObject({ fsType: 'nfs4', source: 'fs1:/export/qm' });
    expect(isNetworkOrOverlay(mountOf('/srv/qm share/QM_qJobs', mounts))).toBe(true);
    expect(isNetworkOrOverlay(mountOf('/mnt/smb/x', mounts))).toBe(true);
    expect(isNetworkOrOverlay(mountOf('/srv/qm', mounts))).toBe(false);
  });
});

describe.runIf(mountable)('QM folders on different filesystems', () => {
  const mounts = new Mounts();
  const dirs: QmDir[] = [];
  let redisUrl: string;

  beforeAll(async () => {
    // never contacted: the check comes first
    redisUrl = `redis://127.0.0.1:${await freePort()}`;
  });

  afterAll(() => {
    mounts.unmountAll();
    for (const d of dirs) d.cleanup();
  });

  const layoutWith = (split: (qm: QmDir) => void): QmDir => {
    const qm = makeQmDir({ QMServer: { redis_url: redisUrl } });
    dirs.push(qm);
    for (const d of [qm.queued, qm.running, qm.done, qm.lost]) mkdirSync(d, { recursive: true });
    split(qm);
    return qm;
  };

  it('a worker refuses QM_Jobs on a tmpfs in one line, exit 2', async () => {
    const qm = layoutWith((q) => mounts.tmpfs(q.running));
    const r = await runQm(['worker', '-c', qm.cfg]);
    const home = mountOf(realpathSync(qm.queued), readMounts())!;
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `qm: QM_Jobs (${qm.running}: tmpfs tmpfs on ${qm.running}) is not on the filesystem of QM_qJobs ` +
        `(${qm.queued}: ${home.fsType} ${home.source} on ${home.mountPoint}): jobs move between the QM folders by rename, ` +
        'which works only within one filesystem; put all four on one mount\n',
    );
  });

  it('a bind mount of the same filesystem is refused too (rename across mounts fails)', async () => {
    const qm = layoutWith((q) => {
      const elsewhere = path.join(q.base, 'elsewhere');
      mkdirSync(elsewhere);
      mounts.bind(elsewhere, q.done);
    });
    const r = await runQm(['ingest', '-c', qm.cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^qm: QM_dJobs \(.*\) is not on the filesystem of QM_qJobs .*put all four on one mount\n$/);
  });

  it('qm start refuses QM_lost+found on another filesystem before starting anything', async () => {
    const qm = layoutWith((q) => mounts.tmpfs(q.lost));
    const r = await runQm(['start', '-c', qm.cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^qm: QM_lost\+found \(.*tmpfs.*\) is not on the filesystem of QM_qJobs /);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });
});

describe.runIf(mountable)('a QM folder on an overlay (no file events from other hosts)', () => {
  const mounts = new Mounts();
  let redis: TestRedis;
  let qm: QmDir;

  beforeAll(async () => {
    redis = await TestRedis.start();
    qm = makeQmDir({ QMServer: { redis_url: redis.url, MaxNbProcessors: 2 } });
    mounts.overlay(path.join(qm.base, 'layers'), qm.root);
  });

  afterAll(async () => {
    mounts.unmountAll();
    await redis.stop();
    qm.cleanup();
  });

  it('ingest in events mode says to poll', async () => {
    const ingest = startQm(['ingest', '-c', qm.cfg]);
    await ingest.waitForOutput(/QM_qJobs is on an overlay .*set watch_mode = polling in \[QMServer\]/);
    await ingest.waitForOutput(/watching .*\(events/);
    expect(await ingest.stop()).toBe(0);
  });

  it('watch_mode = polling runs the jobs, and Redis holds no path of this machine', async () => {
    const cfg = path.join(qm.base, 'polling.cfg');
    writeFileSync(cfg, `[QMServer]\nQM_FOLDER = QM\nredis_url = ${redis.url}\nsettle_time = 0.3\nwatch_mode = polling\npoll_interval = 0.2\n`);
    const ingest = startQm(['ingest', '-c', cfg]);
    const worker = startQm(['worker', '-c', cfg]);
    await ingest.waitForOutput(/watching .*\(polling/);
    expect(ingest.output).not.toMatch(/watch_mode = polling/);
    await worker.waitForOutput(/ready/);
    for (const name of ['p1', 'p2', 'p3']) {
      // staged inside the overlay: a rename into it from outside is EXDEV, as from any other filesystem
      await dropJob({ ...qm, base: qm.root }, name, { 'proc_config.cfg': cfgDescriptor({ script: 'echo polled' }) });
    }
    for (const name of ['p1', 'p2', 'p3']) {
      await waitDone(qm, name);
      expect(doneEntries(qm, name)).toHaveLength(1);
    }
    expect(lostEntries(qm)).toEqual([]);
    const client = redis.client();
    const text = await redisText(client);
    client.disconnect();
    expect(text).toContain('QM_dJobs/');
    expect(text).not.toContain(qm.base);
    expect(await ingest.stop()).toBe(0);
    expect(await worker.stop()).toBe(0);
  });
});
