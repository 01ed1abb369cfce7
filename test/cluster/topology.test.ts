/**
 * Issue 7 points 2-3: docker/compose.yaml is valid for Debian's docker-compose,
 * and its topology — Redis, one ingest, three workers, the monitor — runs as
 * plain processes from the file's own commands, environment and healthchecks
 * (through tini, the image's entrypoint), each job exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { cfgDescriptor, doneEntries, dropJob, lostEntries, makeQmDir, QmProcess, runQm, type QmDir } from '../helpers/qm.js';
import { freePort } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import {
  COMPOSE_FILE, REPO, envExample, healthcheck, invocation, loadCompose, volumeTarget,
  type ComposeFile, type HostMapping,
} from './compose.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const QM_SERVICES = ['ingest', 'worker', 'monitor'];

describe('docker/compose.yaml', () => {
  const compose: ComposeFile = loadCompose(envExample());

  it('wires every QM service to one QM folder, one Redis, in order, restarting', () => {
    // profile ha's services (replicas, sentinels) are in the file, off unless asked for
    const always = Object.entries(compose.services).filter(([, s]) => !(s as { profiles?: string[] }).profiles).map(([n]) => n);
    expect(always.sort()).toEqual(['ingest', 'monitor', 'qm-folder', 'redis', 'worker']);
    const ha = Object.entries(compose.services).filter(([, s]) => (s as { profiles?: string[] }).profiles?.includes('ha')).map(([n]) => n);
    expect(ha.sort()).toEqual(['redis-replica-1', 'redis-replica-2', 'sentinel-1', 'sentinel-2', 'sentinel-3']);
    const volumes = new Set<string>();
    for (const name of QM_SERVICES) {
      const s = compose.services[name]!;
      const target = volumeTarget(s);
      expect(target, `${name} QM_FOLDER`).toBe('/qm');
      const mounts = (s.volumes ?? []).filter((v) => v.split(':')[1] === target);
      expect(mounts, `${name} mounts its QM_FOLDER`).toHaveLength(1);
      volumes.add(mounts[0]!.split(':')[0]!);
      expect(s.environment?.QM_REDIS_URL).toBe('redis://:@redis:6379');
      expect(s.depends_on?.redis?.condition).toBe('service_healthy');
      expect(s.depends_on?.['qm-folder']?.condition).toBe('service_completed_successfully');
      expect(s.restart).toBe('unless-stopped');
    }
    expect([...volumes]).toEqual(['qm-data']);
    expect(Object.keys(compose.volumes ?? {})).toContain('qm-data');
    const redis = compose.services.redis!;
    expect(redis.command).toEqual([
      'redis-server', '--appendonly', 'yes', '--requirepass', '', '--masterauth', '', '--replica-announce-ip', 'redis', '--min-replicas-to-write', '0',
    ]);
    expect(redis.healthcheck?.test).toEqual(['CMD-SHELL', 'redis-cli ping | grep -q PONG']);
    expect(redis.ports).toEqual(['127.0.0.1:16379:6379']);
    // one name per replica comes from its hostname (the container id): nothing may fix it
    const worker = compose.services.worker as Record<string, unknown> & { environment: Record<string, unknown> };
    expect(worker.environment.QM_WORKER_NAME).toBeUndefined();
    expect(worker.hostname ?? worker.container_name).toBeUndefined();
    expect(worker.environment.QM_MAX_NB_PROCESSORS).toBe(2);
    expect(compose.services.monitor!.ports).toEqual(['127.0.0.1:8000:8000']);
  });

  it.runIf(has('docker-compose'))('passes docker-compose config', () => {
    for (const extra of [[], ['--env-file', path.join(REPO, 'docker/.env.example')]]) {
      const r = spawnSync('docker-compose', ['-f', COMPOSE_FILE, ...extra, 'config'], { encoding: 'utf8', cwd: '/' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^services:$/m);
      for (const name of ['qm-folder', 'redis', 'ingest', 'worker', 'monitor']) expect(r.stdout).toMatch(new RegExp(`^  ${name}:$`, 'm'));
    }
  });
  if (!has('docker-compose')) console.warn('docker-compose not installed: "docker-compose config" not checked');
});

describe('the compose topology as plain processes', () => {
  const compose = loadCompose({ ...envExample(), QM_REDIS_PASSWORD: 'topology-secret' });
  let qm: QmDir;
  let redisPort: number;
  let monitorPort: number;
  let mapping: HostMapping;
  let withMonitor = false;
  const procs: QmProcess[] = [];
  let redisProc: QmProcess;

  /** Starts one service's process as its container would. */
  const startService = (name: string): QmProcess => {
    const run = invocation(compose.services[name]!, mapping);
    const child = spawn(run.command, run.args, {
      cwd: run.cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TINI_SUBREAPER: '1', ...run.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new QmProcess(child);
    procs.push(proc);
    return proc;
  };

  /** Runs the service's compose healthcheck until it passes, as `condition: service_healthy` does. */
  const waitHealthy = async (name: string) => {
    const check = healthcheck(compose.services[name]!, mapping)!.map((a) => a.replace(':8000/', `:${monitorPort}/`));
    const run = invocation(compose.services[name]!, mapping);
    await waitFor(
      () => spawnSync(check[0]!, check.slice(1), { cwd: run.cwd, env: { ...process.env, ...run.env }, timeout: 15_000 }).status === 0,
      { timeout: 30_000, interval: 300, what: `${name} healthy` },
    );
  };

  beforeAll(async () => {
    qm = makeQmDir();
    redisPort = await freePort();
    monitorPort = await freePort();
    // `qm nothing --help` prints the general help: the command exists when its own usage shows
    withMonitor = (await runQm(['monitor', '--help'])).stdout.startsWith('Usage: qm monitor');
    if (!withMonitor) console.warn('qm monitor does not exist on this branch: the monitor service is not started');
    mapping = {
      qmFolder: qm.root,
      redisAddress: `127.0.0.1:${redisPort}`,
      withoutTini: !has('tini'),
      // only loopback here; in the container QM_HOST=0.0.0.0 on its own network
      env: { QM_HOST: '127.0.0.1', QM_PORT: String(monitorPort) },
    };
    // the image's WORKDIR is the QM folder: a QMserv.cfg there is read by every role
    mkdirSync(qm.root, { recursive: true });
    writeFileSync(path.join(qm.root, 'QMserv.cfg'), '[QMServer]\nsettle_time = 0.3\n');

    const redis = compose.services.redis!;
    const dataDir = path.join(qm.base, 'redis-data');
    mkdirSync(dataDir);
    const [cmd, ...args] = redis.command!;
    redisProc = new QmProcess(
      spawn(cmd!, [...args, '--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    // its healthcheck, pointed at this port, with the service's environment (the password)
    const check = healthcheck(redis, mapping)!.map((a) => a.replace('redis-cli', `redis-cli -p ${redisPort}`));
    const env = { ...process.env, ...(redis.environment as Record<string, string>) };
    await waitFor(() => spawnSync(check[0]!, check.slice(1), { env }).status === 0, { what: 'redis healthy' });
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await redisProc?.stop();
    qm?.cleanup();
  });

  it('runs every job exactly once on three workers, and each process stops with exit 0 through tini', async () => {
    const ingest = startService('ingest');
    const workers = [startService('worker'), startService('worker'), startService('worker')];
    const monitor = withMonitor ? startService('monitor') : undefined;
    await ingest.waitForOutput(/watching/);
    for (const w of workers) await w.waitForOutput(/ready/);
    await waitHealthy('worker');
    if (monitor) await waitHealthy('monitor');

    const client = new Redis({ port: redisPort, host: '127.0.0.1', password: 'topology-secret' });
    const names = await waitFor(async () => {
      const found = await client.keys('qm:worker:*');
      return found.length === 3 && found;
    }, { what: 'three worker heartbeats' });
    // three replicas, three names (host:pid), none configured
    expect(new Set(names).size).toBe(3);

    const runs = path.join(qm.base, 'runs');
    const jobs = Array.from({ length: 12 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    for (const name of jobs) {
      await dropJob(qm, name, { 'proc_config.cfg': cfgDescriptor({ script: `echo ${name} >> ${runs}; sleep 0.2` }) });
    }
    await waitFor(() => jobs.every((n) => doneEntries(qm, n).length > 0), { timeout: 60_000, what: 'all jobs done' });

    const lines = readFileSync(runs, 'utf8').trim().split('\n').sort();
    expect(lines).toEqual(jobs);
    for (const n of jobs) expect(doneEntries(qm, n)).toHaveLength(1);
    expect(lostEntries(qm)).toEqual([]);
    const records = (await client.mget(...(await client.zrange('qm:done', 0, -1)).map((id) => `qm:rec:${id}`))).map(
      (r) => JSON.parse(r!) as { worker: string; outcome: { kind: string } },
    );
    expect(records.map((r) => r.outcome.kind)).toEqual(jobs.map(() => 'success'));
    const spread = new Map<string, number>();
    for (const r of records) spread.set(r.worker, (spread.get(r.worker) ?? 0) + 1);
    console.info(`compose topology: jobs per worker ${JSON.stringify(Object.fromEntries(spread))}`);
    client.disconnect();

    for (const p of [ingest, ...workers, ...(monitor ? [monitor] : [])]) expect(await p.stop()).toBe(0);
  });

  it('qm health says in one line when Redis does not answer', async () => {
    const closed = await freePort();
    const r = await runQm(['health'], { QM_FOLDER: qm.root, QM_REDIS_URL: `redis://127.0.0.1:${closed}`});
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`qm: redis at redis://127.0.0.1:${closed} did not answer within 3 s`);
  });
});
