/**
 * Issue 7 point 4: QM on several hosts, on one machine. Four network
 * namespaces with their own hostnames and their own mount path of one shared
 * folder: `head` (Redis with a password, qm ingest), `h1` and `h2` (a qm
 * worker each), `desk` (where a user cancels). Jobs spread over both worker
 * hosts; a cancel from `desk` kills a job on a worker host; pulling the plug
 * on a worker host (SIGKILL to all its processes) is handled by the survivor
 * (SPEC §4: the job goes to QM_lost+found, the survivor keeps working).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { cfgDescriptor, doneEntries, dropJob, lostEntries, makeQmDir, QM_BIN, QmProcess, runQm, waitDone, type QmDir } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { Lab, namespaceProblem } from './netns.js';
import { redisText } from './redis-dump.js';
import type { RunningInfo } from '../../src/core/status.js';

const problem = namespaceProblem();
if (problem) console.warn(`network namespaces cannot be created here (${problem}): the multi-host tests are skipped`);

const PASSWORD = 'lab-secret';
const DIST = path.dirname(QM_BIN);

describe.skipIf(problem !== undefined)('QM on several hosts sharing one folder', () => {
  let qm: QmDir;
  let lab: Lab;
  let redis: Redis;
  let redisUrl: string;
  let hasCancel = false;
  const procs = new Map<string, QmProcess>();
  const socket = () => path.join(qm.base, 'redis.sock');

  /** A qm role on a host, with that host's own QMserv.cfg (its own path to the share). */
  const startRole = (host: string, role: string): QmProcess => {
    const proc = new QmProcess(lab.spawn(host, [process.execPath, QM_BIN, role, '-c', hostConfig(host)]));
    procs.set(`${host}/${role}`, proc);
    return proc;
  };

  const hostConfig = (host: string): string => {
    const cfg = path.join(qm.base, 'etc', host, 'QMserv.cfg');
    if (!existsSync(cfg)) {
      mkdirSync(path.dirname(cfg), { recursive: true });
      const server = { QM_FOLDER: lab.host(host).view, redis_url: redisUrl, MaxNbProcessors: 2, settle_time: 0.3, kill_grace: 2 };
      writeFileSync(cfg, '[QMServer]\n' + Object.entries(server).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n');
    }
    return cfg;
  };

  const running = async (): Promise<RunningInfo[]> => (await redis.hvals('qm:running')).map((v) => JSON.parse(v) as RunningInfo);
  const ranOn = (name: string): string[] =>
    readFileSync(path.join(qm.done, doneEntries(qm, name)[0]!, 'ran-on'), 'utf8').trim().split('\n');
  /** A job that says where it runs and waits for `flag` in the QM folder (a relative path: hosts differ). */
  const waitingJob = (flag: string) =>
    cfgDescriptor({ script: `hostname >> ran-on; while [ ! -e ../../${flag} ]; do sleep 0.05; done` });

  beforeAll(async () => {
    qm = makeQmDir();
    mkdirSync(qm.root);
    lab = new Lab(qm.root, path.join(qm.base, 'views'), [
      { name: 'head', octet: 1 },
      { name: 'h1', octet: 11 },
      { name: 'h2', octet: 12 },
      { name: 'desk', octet: 20 },
    ]);
    const head = lab.host('head');
    redisUrl = `redis://:${PASSWORD}@${head.address}:6379`;
    // reachable over the lab network, and by this test through a unix socket (no network needed)
    const redisServer = new QmProcess(
      lab.spawn('head', ['redis-server', '--bind', head.address, '--port', '6379', '--requirepass', PASSWORD,
        '--unixsocket', socket(), '--unixsocketperm', '700', '--save', '', '--dir', qm.base]),
    );
    procs.set('head/redis', redisServer);
    await waitFor(() => existsSync(socket()), { what: 'redis socket' });
    redis = new Redis({ path: socket(), password: PASSWORD, maxRetriesPerRequest: null });
    await redis.ping();
    hasCancel = (await runQm(['cancel', '--help'])).stdout.startsWith('Usage: qm cancel');
    if (!hasCancel) console.warn('qm cancel does not exist on this branch: the cancel goes through core/actions cancelJob');

    await startRole('head', 'ingest').waitForOutput(/watching/);
    await startRole('h1', 'worker').waitForOutput(/worker h1:\d+ ready/);
    await startRole('h2', 'worker').waitForOutput(/worker h2:\d+ ready/);
  });

  afterAll(async () => {
    redis?.disconnect();
    lab?.destroy();
    await Promise.all([...procs.values()].map((p) => p.exited));
    qm?.cleanup();
  });

  it('spreads jobs over both worker hosts, each exactly once', async () => {
    const names = ['s1', 's2', 's3', 's4', 's5', 's6'];
    for (const name of names) await dropJob(qm, name, { 'proc_config.cfg': waitingJob('release') });
    // two processors per host: four run, two on each host, while two wait
    const first = await waitFor(async () => {
      const r = await running();
      return r.length === 4 && r;
    }, { what: 'four jobs running' });
    expect(first.filter((r) => r.host === 'h1')).toHaveLength(2);
    expect(first.filter((r) => r.host === 'h2')).toHaveLength(2);
    writeFileSync(path.join(qm.root, 'release'), '');
    for (const name of names) await waitDone(qm, name);
    const spread: Record<string, number> = {};
    for (const name of names) {
      const lines = ranOn(name);
      expect(lines, name).toHaveLength(1);
      spread[lines[0]!] = (spread[lines[0]!] ?? 0) + 1;
      expect(doneEntries(qm, name)).toHaveLength(1);
    }
    console.info(`hosts: 4 (head, h1, h2, desk); jobs per worker host ${JSON.stringify(spread)}`);
    expect(Object.keys(spread).sort()).toEqual(['h1', 'h2']);
  });

  it('a cancel on another host kills a running job on its worker host', async () => {
    await dropJob(qm, 'victim', {
      'proc_config.cfg': cfgDescriptor({ script: "trap 'date +%s%N > killed_at; exit 143' TERM; hostname >> ran-on; sleep 1000 & wait" }),
    });
    const info = await waitFor(async () => (await running()).find((r) => r.name === 'victim'), { what: 'victim running' });
    expect(['h1', 'h2']).toContain(info.host);
    const desk = lab.host('desk');
    const requestedAt = Date.now();
    const cancel = hasCancel
      ? new QmProcess(lab.spawn('desk', [process.execPath, QM_BIN, 'cancel', 'victim', '-c', hostConfig('desk')]))
      : new QmProcess(lab.spawn('desk', [process.execPath, '--input-type=module', '-e', CANCEL_SCRIPT, DIST, desk.view, redisUrl, 'victim']));
    expect(await cancel.exited).toBe(0);
    const done = await waitDone(qm, 'victim');
    const killedAt = Number(BigInt(readFileSync(path.join(done, 'killed_at'), 'utf8').trim()) / 1_000_000n);
    const published = /"at":(\d+)/.exec(cancel.output)?.[1];
    console.info(
      `kill across hosts: desk → ${info.host}: ${killedAt - requestedAt} ms from starting the cancel command` +
        (published ? `, ${killedAt - Number(published)} ms from the kill request in Redis` : ''),
    );
    expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toMatch(/killed by/);
    const record = JSON.parse((await redis.get(`qm:rec:${info.id}`))!) as { outcome: { kind: string }; host: string };
    expect(record.outcome.kind).toBe('killed');
    expect(record.host).toBe(info.host);
  });

  it('losing a worker host: the survivor moves its job to QM_lost+found and keeps working', async () => {
    await dropJob(qm, 'orphan', { 'proc_config.cfg': waitingJob('never') });
    const info = await waitFor(async () => (await running()).find((r) => r.name === 'orphan'), { what: 'orphan running' });
    const [lost, survivor] = info.host === 'h1' ? ['h1', 'h2'] : ['h2', 'h1'];
    const killedAt = Date.now();
    expect(lab.killHost(lost)).toBeGreaterThan(1);
    const entry = await waitFor(() => lostEntries(qm).find((e) => e.endsWith('-orphan')), { timeout: 120_000, interval: 100, what: 'orphan in QM_lost+found' });
    console.info(`host loss: ${lost} lost, detected and handled by ${survivor} after ${Date.now() - killedAt} ms`);
    expect(lab.processCount(lost)).toBe(0);
    expect(readFileSync(path.join(qm.lost, entry, 'QM_REASON.txt'), 'utf8')).toMatch(new RegExp(`worker lost: ${lost}:\\d+ on ${lost}`));
    const record = JSON.parse((await redis.get(`qm:rec:${info.id}`))!) as { outcome: { kind: string }; folder: string };
    expect(record).toMatchObject({ outcome: { kind: 'lost' }, folder: `QM_lost+found/${entry}` });

    await dropJob(qm, 'after-loss', { 'proc_config.cfg': cfgDescriptor({ script: 'hostname >> ran-on' }) });
    await waitDone(qm, 'after-loss');
    expect(ranOn('after-loss')).toEqual([survivor]);
  }, 180_000);

  it('shared records hold no host path: each host mounts the share elsewhere', async () => {
    const text = await redisText(redis);
    expect(text).toContain('QM_dJobs/');
    expect(text).not.toContain(path.join(qm.base, 'views'));
    expect(text).not.toContain(qm.root + '/');
    expect(readdirSync(qm.running)).toEqual([]);
  });
});

/** `qm cancel` for branches without it: the same core/actions call, printing when it asked. */
const CANCEL_SCRIPT = `
const [dist, folder, url, name] = process.argv.slice(1);
const { connect, openQueue } = await import(dist + '/core/redis.js');
const { JobStore } = await import(dist + '/core/jobstore.js');
const { cancelJob } = await import(dist + '/core/actions.js');
const { layoutOf } = await import(dist + '/core/folders.js');
const { logger } = await import(dist + '/core/log.js');
const redis = connect(url, logger('cancel'), 'cancel');
const store = new JobStore(redis, openQueue(redis), 10000);
const at = Date.now();
const result = await cancelJob(store, layoutOf(folder), name, 'a user on desk');
console.log(JSON.stringify({ at, result }));
await store.queue.close();
redis.disconnect();
`;
