/**
 * Issue 17 points 1-3: docker/compose.yaml run for real, as a user following
 * README "With Docker Compose" would (QM_TEST_DOCKER=1; it takes minutes):
 * build and up with 3 workers, jobs put in with `qm submit -` through
 * `docker-compose exec`, spread over the replicas, scaled to 5, a worker
 * container killed mid-job, Redis restarted mid-stream, down/up keeping the
 * history, then profile ha: the Redis primary killed, a replica takes over.
 * QM_DATA is a host folder that does not exist beforehand. Everything it made
 * is removed at the end (see docker-host.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';
import { COMPOSE_FILE } from '../cluster/compose.js';
import { figure } from '../faults/support.js';
import { dockerHost, run, runAsync, standIns, type DockerHost } from './docker-host.js';

const ENABLED = process.env.QM_TEST_DOCKER === '1';
const QM_UID = 1000;
const MINUTE = 60_000;

describe.runIf(ENABLED)('docker compose, for real', () => {
  let docker: DockerHost;
  let work = '';
  /** QM_DATA: a host folder that does not exist yet */
  let data = '';
  const project = `qmtest${randomBytes(3).toString('hex')}`;
  let env: NodeJS.ProcessEnv;
  let builtImages: string[] = [];
  let hadQmImage = true;
  let monitorPort = 0;

  const compose = (args: string[], input?: Buffer | string, allowFail = false) =>
    runAsync('docker-compose', ['-f', COMPOSE_FILE, '-p', project, ...args], env, { input, allowFail });
  const docker_ = (args: string[], allowFail = false) => run('docker', args, env, { allowFail });
  const qm = (args: string[], input?: Buffer) => compose(['exec', '-T', 'ingest', 'qm', ...args], input, true);

  /** A job folder made on the host, put in with `tar -c | docker-compose exec -T ingest qm submit -`. */
  const submit = (name: string, script: string) => {
    const jobs = path.join(work, 'jobs');
    mkdirSync(path.join(jobs, name), { recursive: true });
    writeFileSync(path.join(jobs, name, 'proc_config.cfg'), `[QMOptions]\nscript : ${script}\n`);
    return qm(['submit', '-'], spawnSync('tar', ['-C', jobs, '-c', name]).stdout);
  };
  const entries = (folder: string) => {
    try {
      return readdirSync(path.join(data, folder));
    } catch {
      return [];
    }
  };
  const doneNames = () => entries('QM_dJobs').map((e) => e.slice(20));
  const containers = async (service: string) => (await compose(['ps', '-q', service])).stdout.split('\n').filter(Boolean);
  const healthOf = (id: string) => docker_(['inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', id]).stdout.trim();
  const allHealthy = async () => {
    for (const service of ['redis', 'ingest', 'worker', 'monitor']) {
      if (!(await containers(service)).every((id) => healthOf(id) === 'healthy')) return false;
    }
    return true;
  };
  const workersAlive = async () => {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/metrics`).catch(() => undefined);
    return Number(/^qm_workers_alive (\d+)/m.exec((await res?.text()) ?? '')?.[1] ?? -1);
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'qm-compose-'));
    data = path.join(work, 'srv', 'qm');
    docker = await dockerHost();
    env = {
      ...docker.env,
      QM_DATA: data, QM_UID: String(QM_UID), QM_GID: String(QM_UID),
      QM_MONITOR_PORT: String((monitorPort = await freePort())), QM_REDIS_PORT: String(await freePort()),
      QM_IMAGE: `qm:${project}`, QM_WORKER_STOP_GRACE: '20s',
    };
    hadQmImage = docker_(['image', 'inspect', env.QM_IMAGE!], true).code === 0;
    const t0 = Date.now();
    builtImages = await standIns(env);
    if (builtImages.length > 0) figure('compose: stand-in base images built', `${((Date.now() - t0) / 1000).toFixed(0)} s (${builtImages.join(', ')})`);
  }, 20 * MINUTE);

  afterAll(async () => {
    if (!docker) {
      if (work) rmSync(work, { recursive: true, force: true });
      return;
    }
    await compose(['--profile', 'ha', 'down', '-v', '--remove-orphans'], undefined, true);
    const ours = [...(hadQmImage ? [] : [env.QM_IMAGE!]), ...builtImages.reverse()];
    for (const image of ours) docker_(['rmi', image], true);
    await docker.stop();
    rmSync(work, { recursive: true, force: true });
  }, 10 * MINUTE);

  it('up --build with 3 workers: healthy, jobs put in with qm submit - run spread over the replicas', async () => {
    const t0 = Date.now();
    await compose(['build']);
    const built = Date.now();
    await compose(['up', '-d', '--scale', 'worker=3']);
    const up = Date.now();
    await waitFor(allHealthy, { timeout: 3 * MINUTE, interval: 1000, what: 'every service healthy' });
    const healthy = Date.now();
    figure('compose: build of the QM image (npm ci, tsc, apt)', `${((built - t0) / 1000).toFixed(0)} s`);
    figure('compose: up → every service healthy (first healthcheck after 30 s)', `${((healthy - up) / 1000).toFixed(0)} s`);
    // QM_DATA did not exist: Docker made it as root, qm-folder gave it to QM's user
    expect(statSync(data).uid).toBe(QM_UID);
    for (let i = 0; i < 12; i++) {
      const r = await submit(`spread${i}`, 'sleep 1; hostname > host.txt');
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`spread${i}\n`);
    }
    await waitFor(() => doneNames().filter((n) => n.startsWith('spread')).length === 12, { timeout: 2 * MINUTE, what: '12 jobs done' });
    const hosts = new Set(entries('QM_dJobs').filter((e) => e.includes('-spread')).map((e) => readFileSync(path.join(data, 'QM_dJobs', e, 'host.txt'), 'utf8').trim()));
    expect(hosts.size).toBeGreaterThanOrEqual(2);
    const folder = path.join(data, 'QM_dJobs', entries('QM_dJobs')[0]!);
    expect(statSync(folder).uid).toBe(QM_UID);
    figure('compose: 12 jobs of 1 s over 3 worker replicas', `ran on ${hosts.size} replicas`);
  }, 15 * MINUTE);

  it('scaled to 5 workers; a worker container killed mid-job: its job goes to QM_lost+found with the reason', async () => {
    await compose(['up', '-d', '--no-recreate', '--scale', 'worker=5']);
    await waitFor(async () => (await workersAlive()) === 5, { timeout: 2 * MINUTE, interval: 500, what: '5 live workers' });
    expect((await submit('victim', 'sleep 120')).code).toBe(0);
    const host = await waitFor(async () => {
      const status = await qm(['status', '--json']);
      return (JSON.parse(status.stdout) as { running: Array<{ name: string; host: string }> }).running.find((r) => r.name === 'victim')?.host;
    }, { timeout: MINUTE, interval: 500, what: 'victim running' });
    const container = (await containers('worker')).find((id) => id.startsWith(host));
    expect(container).toBeDefined();
    docker_(['kill', container!]);
    const killedAt = Date.now();
    const entry = await waitFor(() => entries('QM_lost+found').find((e) => e.endsWith('-victim')), { timeout: 2 * MINUTE, interval: 250, what: 'victim in QM_lost+found' });
    figure('compose: worker container killed → its job in QM_lost+found', `${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    expect(readFileSync(path.join(data, 'QM_lost+found', entry, 'QM_REASON.txt'), 'utf8')).toMatch(/worker lost/);
  }, 10 * MINUTE);

  it('Redis restarted mid-stream: every job ends once, nothing lost', async () => {
    for (let i = 0; i < 20; i++) expect((await submit(`flow${i}`, 'sleep 0.5')).code).toBe(0);
    await waitFor(() => doneNames().filter((n) => n.startsWith('flow')).length >= 4, { timeout: MINUTE, what: '4 flow jobs done' });
    await compose(['restart', 'redis']);
    await waitFor(() => doneNames().filter((n) => n.startsWith('flow')).length >= 20, { timeout: 3 * MINUTE, what: '20 flow jobs done' });
    expect(doneNames().filter((n) => n.startsWith('flow')).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `flow${i}`).sort());
    expect(entries('QM_lost+found').map((e) => e.slice(20))).toEqual(['victim']);
    expect(entries('QM_qJobs')).toEqual([]);
  }, 10 * MINUTE);

  it('down, then up again: the history is kept', async () => {
    const before = JSON.parse((await qm(['status', '--json', '--all'])).stdout) as { doneTotal: number };
    expect(before.doneTotal).toBeGreaterThanOrEqual(32);
    await compose(['down']);
    await compose(['up', '-d', '--scale', 'worker=2']);
    await waitFor(async () => (await qm(['status', '--json', '--all'])).code === 0, { timeout: 2 * MINUTE, interval: 1000, what: 'qm status after up' });
    const after = JSON.parse((await qm(['status', '--json', '--all'])).stdout) as { doneTotal: number };
    expect(after.doneTotal).toBe(before.doneTotal);
  }, 10 * MINUTE);

  it('profile ha: the Redis primary killed mid-stream, the sentinels promote a replica, every job ends once', async () => {
    await compose(['down', '-v']);
    rmSync(data, { recursive: true, force: true });
    env = {
      ...env, COMPOSE_PROFILES: 'ha', QM_REDIS_SCHEME: 'redis+sentinel',
      QM_REDIS_ADDRESS: 'sentinel-1:26379,sentinel-2:26379,sentinel-3:26379/qm', QM_SENTINEL_DOWN_AFTER_MS: '2000',
    };
    await compose(['up', '-d', '--scale', 'worker=2']);
    await waitFor(async () => (await containers('sentinel-3')).length === 1 && (await qm(['health'])).code === 0, { timeout: 3 * MINUTE, interval: 1000, what: 'QM on the sentinels' });
    for (let i = 0; i < 20; i++) expect((await submit(`ha${i}`, 'sleep 0.5')).code).toBe(0);
    await waitFor(() => doneNames().length >= 4, { timeout: MINUTE, what: '4 jobs done' });
    await compose(['kill', 'redis']);
    const killedAt = Date.now();
    // a user's view of the pause: until a submit works again
    await waitFor(async () => (await submit('after_failover', 'true')).code === 0, { timeout: 2 * MINUTE, interval: 200, what: 'a submit after the failover' });
    figure('compose ha: Redis primary killed → qm submit works again', `${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    await waitFor(() => doneNames().length >= 21, { timeout: 3 * MINUTE, what: '21 jobs done' });
    expect(doneNames().sort()).toEqual([...Array.from({ length: 20 }, (_, i) => `ha${i}`), 'after_failover'].sort());
    expect(entries('QM_lost+found')).toEqual([]);
  }, 15 * MINUTE);
});
