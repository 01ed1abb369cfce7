/**
 * `npm run bench`: QM measured against the machine's limit (issue 8).
 * 1. baseline: bare spawn rate;
 * 2. `qm start` on its embedded Redis: idle CPU, throughput, RSS;
 * 3. `qm ingest` + 2 `qm worker` on a private Redis: throughput, RSS;
 * 4. `qm start` on a private Redis: latency (drop, submit), then the same
 *    with a long queue held back (and Redis's memory per queued job, `qm
 *    status` and the monitor's home over it), then the monitor over the
 *    done jobs;
 * 5. a job array of trivial tasks on `qm start`: queued, then run.
 * Parts whose command this build lacks are skipped and say so. Prints a
 * table and writes every number to bench/results.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { embeddedSocket } from '../src/core/embedded-redis.js';
import { keys } from '../src/core/redis.js';
import { allowedCpus } from '../src/worker/cpus.js';
import { bareSpawnRate } from './baseline.js';
import { Playground, hasCommand, makeSite, qmBin, useQm, type Role, type Site } from './env.js';
import { OptionsError, USAGE, parseOptions, type BenchOptions } from './options.js';
import { spawnSync } from 'node:child_process';
import { childrenOf, cpuMeter, cpuWindows, memory, msPerJob, reapedChildrenSeconds } from './proc.js';
import { throughput } from './throughput.js';
import { dropLatency, submitLatency } from './latency.js';
import { fillQueue, holdQueued, releaseHeld } from './scale.js';
import { measurePage, monitorAnswers } from './monitor.js';
import { arrayRun } from './array.js';
import { summarize } from './stats.js';
import { countEntries } from './jobs.js';
import { formatTable, tableRows, type Results } from './report.js';
import { nowMs, sleep, waitUntil } from './wait.js';

const READY = /QM running on/;
const IDLE_WARMUP_MS = 10_000;
const IDLE_WINDOW_S = 10;

function progress(text: string): void {
  process.stderr.write(`[bench] ${text}\n`);
}

/** Runs one part; a failure is recorded and the other parts still run. */
async function part<T>(results: Results, name: string, run: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await run();
  } catch (err) {
    const error = (err as Error).message;
    results.errors.push(`${name}: ${error}`);
    progress(`${name} FAILED: ${error}`);
    return { error };
  }
}

function nodeArgs(opts: BenchOptions): string[] {
  return opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`] : [];
}

async function startRole(pg: Playground, opts: BenchOptions, site: Site, command: string, name: string, env: NodeJS.ProcessEnv = {}): Promise<Role> {
  const role = pg.start(['-c', site.cfg, command], name, env, nodeArgs(opts));
  await role.waitLog(READY);
  return role;
}

/** The command line of a worker's job launcher holds this. */
const LAUNCHER = 'worker/launcher.js';
/** ... and that of a launcher's guard shell (worker/job-guard.ts). */
const GUARD = 'qm-job-guard';

/**
 * From now on, CPU per job of the qm processes, their job launchers (with
 * their guards), the job processes the launchers ran (job shells and
 * scripts) and redis-server.
 */
function cpuMeters(qmPids: number[], launchers: number[], redisPid: number) {
  const qm = cpuMeter(qmPids);
  const launcher = cpuMeter([...launchers, ...launchers.flatMap((pid) => childrenOf(pid, GUARD))]);
  const jobs = cpuMeter(launchers, reapedChildrenSeconds);
  const redis = cpuMeter([redisPid]);
  return (n: number) => ({
    qmCpuMsPerJob: msPerJob(qm(), n),
    launcherCpuMsPerJob: launchers.length ? msPerJob(launcher(), n) : undefined,
    jobsCpuMsPerJob: launchers.length ? msPerJob(jobs(), n) : undefined,
    redisCpuMsPerJob: msPerJob(redis(), n),
  });
}

/** `qm start` on its embedded Redis: idle CPU, then throughput and the RSS after it. */
async function embeddedStart(pg: Playground, opts: BenchOptions, results: Results): Promise<void> {
  const site = await makeSite(pg.dir, 'start', { MaxNbProcessors: opts.budget, settle_time: opts.settle });
  const qm = await startRole(pg, opts, site, 'start', 'qm-start');
  const redisPid = Number((await qm.waitLog(/embedded redis started on .* \(pid (\d+)\)/))[1]);
  pg.adoptStray(redisPid);
  if (opts.sections.has('idle')) {
    results.idle = await part(results, 'idle', async () => {
      progress(`idle CPU of qm start over ${opts.idleSeconds} s`);
      // start-up work, and the garbage collection V8 runs once things calm down, are not idleness
      const warmupMs = Math.min(IDLE_WARMUP_MS, opts.idleSeconds * 1000);
      await sleep(warmupMs);
      // qm start with its job launcher, then its redis-server
      const launcher = childrenOf(qm.pid, LAUNCHER);
      // windows of about 10 s: the median one is the idle figure, one-off work
      // (V8's memory-reducing collections, once, 10-35 s after the start) falls in one window
      const windows = Math.max(1, Math.round(opts.idleSeconds / IDLE_WINDOW_S));
      const shares = await cpuWindows([redisPid, qm.pid, ...launcher], windows, opts.idleSeconds / windows);
      if (!shares) throw new Error('no /proc here: cannot read CPU times');
      const byWindow = shares.map(([redis, ...qmParts]) => ({ redis: redis!, qm: qmParts.reduce((a, b) => a + b, 0) }));
      const median = [...byWindow].sort((a, b) => a.qm + a.redis - (b.qm + b.redis))[Math.floor((windows - 1) / 2)]!;
      const mean = (pick: (w: { qm: number; redis: number }) => number) => byWindow.reduce((a, w) => a + pick(w), 0) / windows;
      return {
        seconds: opts.idleSeconds, warmupSeconds: warmupMs / 1000, windows,
        qmPercent: round2(median.qm), redisPercent: round2(median.redis), totalPercent: round2(median.qm + median.redis),
        meanQmPercent: round2(mean((w) => w.qm)), meanTotalPercent: round2(mean((w) => w.qm + w.redis)),
      };
    });
  }
  if (opts.sections.has('throughput')) {
    const redis = new Redis({ path: embeddedSocket(site.internal), maxRetriesPerRequest: null });
    results.throughput.start = await part(results, 'throughput qm start', async () => {
      progress(`throughput: ${opts.jobs} jobs through qm start (budget ${opts.budget})`);
      const launchers = childrenOf(qm.pid, LAUNCHER);
      const meters = cpuMeters([qm.pid], launchers, redisPid);
      const run = await throughput(site, redis, opts.jobs, 'start');
      return { budget: opts.budget, ...run, ...meters(run.jobs) };
    });
    results.rss['qm start'] = memory(qm.pid);
    results.rss['qm start: its job launcher'] = memory(childrenOf(qm.pid, LAUNCHER)[0] ?? -1);
    results.rss['redis-server (embedded)'] = memory(redisPid);
    redis.disconnect();
  }
  await qm.stop();
}

/** `qm ingest` + 2 `qm worker` splitting the budget and the CPUs, on a private Redis. */
async function separateRoles(pg: Playground, opts: BenchOptions, results: Results): Promise<void> {
  const server = await pg.redis();
  const budgets = [Math.ceil(opts.budget / 2), Math.max(1, Math.floor(opts.budget / 2))];
  const cpus = allowedCpus();
  const half = Math.ceil(cpus.length / 2);
  const cpuSets = cpus.length > 1 ? [cpus.slice(0, half), cpus.slice(half)] : [cpus, cpus];
  const site = await makeSite(pg.dir, 'roles', { redis_url: server.url, settle_time: opts.settle, MaxNbProcessors: budgets[0]! });
  const ingest = await startRole(pg, opts, site, 'ingest', 'ingest');
  const workers = await Promise.all(
    budgets.map((budget, i) =>
      startRole(pg, opts, site, 'worker', `worker-${i + 1}`, {
        QM_MAX_NB_PROCESSORS: String(budget),
        QM_CPUS: cpuSets[i]!.join(','),
        QM_WORKER_NAME: `bench-worker-${i + 1}`,
      }),
    ),
  );
  const redis = server.client();
  results.throughput.roles = await part(results, 'throughput ingest + 2 workers', async () => {
    progress(`throughput: ${opts.jobs} jobs through qm ingest + 2 qm worker (budgets ${budgets.join('+')})`);
    const launchers = workers.flatMap((w) => childrenOf(w.pid, LAUNCHER));
    const meters = cpuMeters([ingest, ...workers].map((r) => r.pid), launchers, server.pid);
    await redis.config('RESETSTAT');
    const run = await throughput(site, redis, opts.jobs, 'roles');
    return {
      budgets,
      ...run,
      ...meters(run.jobs),
      redisCommands: redisCommandCosts(await redis.info('commandstats'), run.jobs),
    };
  });
  results.rss['qm ingest'] = memory(ingest.pid);
  workers.forEach((w, i) => {
    results.rss[`qm worker ${i + 1}`] = memory(w.pid);
    results.rss[`qm worker ${i + 1}: its job launcher`] = memory(childrenOf(w.pid, LAUNCHER)[0] ?? -1);
  });
  redis.disconnect();
  await Promise.all([ingest, ...workers].map((r) => r.stop()));
}

/** Latency on an idle `qm start`, the same with a long queue held back, then the monitor. */
async function latencyScaleMonitor(pg: Playground, opts: BenchOptions, results: Results): Promise<void> {
  const server = await pg.redis();
  const site = await makeSite(pg.dir, 'latency', { redis_url: server.url, MaxNbProcessors: opts.budget, settle_time: opts.settle });
  const redis = server.client();
  const submit = results.available.submit;
  const skipSubmit = { skipped: 'qm submit not available' };
  if (opts.sections.has('latency')) {
    const qm = await startRole(pg, opts, site, 'start', 'latency-start');
    await sleep(500);
    progress(`latency: ${opts.latencyJobs} drops${submit ? ` and ${opts.latencyJobs} qm submit` : ''}, one at a time`);
    results.latency.drop = await part(results, 'latency drop', () => dropLatency(site, redis, opts.latencyJobs, 'drop', opts.settle));
    results.latency.submit = submit ? await part(results, 'latency submit', () => submitLatency(site, redis, opts.latencyJobs, 'submit')) : skipSubmit;
    await qm.stop();
  }
  const wantMonitor = opts.sections.has('monitor') && results.available.monitor;
  if (opts.sections.has('monitor') && !wantMonitor) results.monitor = { skipped: 'qm monitor not available' };
  if (!opts.sections.has('scale') && !wantMonitor) return;

  const ingest = await startRole(pg, opts, site, 'ingest', 'fill-ingest');
  progress(`scale: filling the queue with ${opts.queued} jobs (qm ingest alone)`);
  const memoryBefore = await usedMemory(redis);
  const fill = await fillQueue(site, redis, opts.queued, 'queued');
  const redisBytesPerQueuedJob = Math.round(((await usedMemory(redis)) - memoryBefore) / opts.queued);
  await ingest.stop();
  const held = await holdQueued(redis);
  if (held !== opts.queued) throw new Error(`bench: held ${held} jobs, expected ${opts.queued}`);
  await startRole(pg, opts, site, 'start', 'scale-start');
  await sleep(1_000);
  if (opts.sections.has('scale')) {
    progress(`scale: ${opts.scaleJobs} drops${submit ? ` and ${opts.scaleJobs} qm submit` : ''} with ${held} jobs queued`);
    results.scale = {
      fill,
      held,
      drop: await part(results, 'scale drop', () => dropLatency(site, redis, opts.scaleJobs, 'scale-drop', opts.settle)),
      submit: submit ? await part(results, 'scale submit', () => submitLatency(site, redis, opts.scaleJobs, 'scale-submit')) : skipSubmit,
      redisBytesPerQueuedJob,
      status: await part(results, 'scale qm status', async () => statusWall(site, opts.statusRuns)),
      home: results.available.monitor ? await part(results, 'scale monitor /', () => measurePage(site.port, '/', opts.requests)) : { skipped: 'qm monitor not available' },
    };
  }
  if (wantMonitor) results.monitor = await part(results, 'monitor', () => monitorSection(pg, opts, site, redis, held));
  redis.disconnect();
  await Promise.allSettled(pg.running().map((r) => r.stop()));
}

async function monitorSection(pg: Playground, opts: BenchOptions, site: Site, redis: Redis, held: number) {
  progress(`monitor: running the ${held} held jobs to have them done`);
  const t0 = nowMs();
  await releaseHeld(redis);
  await waitUntil(
    async () => countEntries(site.queued) === 0 && countEntries(site.running) === 0 && (await redis.hlen(keys.running)) === 0,
    Math.max(120_000, held * 100),
    'the held jobs to be done',
    250,
  );
  const seconds = (nowMs() - t0) / 1000;
  const release = { jobs: held, seconds: round2(seconds), jobsPerSecond: Math.round(held / seconds) };
  // the monitor of `qm start`, else a `qm monitor` of its own
  if (!(await monitorAnswers(site.port, 5_000))) {
    const monitor = pg.start(['-c', site.cfg, 'monitor'], 'monitor', {}, nodeArgs(opts));
    if (!(await monitorAnswers(site.port, 20_000))) throw new Error(`/api/jobs does not answer on port ${site.port}; see ${monitor.logFile}`);
  }
  progress(`monitor: ${opts.requests} GETs of / and /api/jobs with ${await redis.zcard(keys.done)} done records`);
  const pages = [];
  for (const page of ['/', '/api/jobs']) pages.push(await measurePage(site.port, page, opts.requests));
  return { doneRecords: await redis.zcard(keys.done), doneFolders: countEntries(site.done), release, pages };
}

/** A job array on `qm start` over a private Redis that keeps every task's record. */
async function arraySection(pg: Playground, opts: BenchOptions, results: Results): Promise<void> {
  const server = await pg.redis();
  const site = await makeSite(pg.dir, 'array', { redis_url: server.url, MaxNbProcessors: opts.budget, settle_time: opts.settle, keep_done: opts.arrayTasks + 100 });
  const qm = await startRole(pg, opts, site, 'start', 'array-start');
  const redis = server.client();
  results.array = await part(results, 'array', async () => {
    progress(`array: qm submit --array 1-${opts.arrayTasks} of a trivial script, then run`);
    return arrayRun(site, redis, opts.arrayTasks, () => cpuMeters([qm.pid], childrenOf(qm.pid, LAUNCHER), server.pid));
  });
  redis.disconnect();
  await qm.stop();
}

/** Bytes Redis holds for data (INFO memory's used_memory). */
async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? Number.NaN);
}

/** Wall times of `qm status` (its table, first lines of each part), ms. */
function statusWall(site: Site, runs: number) {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = nowMs();
    const r = spawnSync(process.execPath, [qmBin(), '-c', site.cfg, 'status'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`qm status exited with ${r.status}: ${r.stderr.trim()}`);
    samples.push(nowMs() - t0);
  }
  return summarize(samples);
}

/** Where Redis spent its time, per job, from INFO commandstats (the costliest first). */
function redisCommandCosts(info: string, jobs: number): Array<{ command: string; callsPerJob: number; usPerJob: number; usPerCall: number }> {
  const costs = [];
  for (const m of info.matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/gm)) {
    costs.push({ command: m[1]!, callsPerJob: round2(Number(m[2]) / jobs), usPerJob: round2(Number(m[3]) / jobs), usPerCall: Number(m[4]) });
  }
  return costs.sort((a, b) => b.usPerJob - a.usPerJob).slice(0, 12);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export async function main(argv: string[]): Promise<Results> {
  const opts = parseOptions(argv);
  if (opts.qm) useQm(opts.qm);
  if (!existsSync(qmBin())) throw new OptionsError(`${qmBin()} not found: run "npm run build" first`);
  const started = nowMs();
  const results: Results = {
    machine: {
      nproc: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryMb: Math.round(os.totalmem() / 2 ** 20),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAverageAtStart: os.loadavg().map(round2),
      loadAverageAtEnd: [],
    },
    startedAt: new Date().toISOString(),
    seconds: 0,
    options: { ...opts, sections: [...opts.sections] },
    available: { submit: hasCommand('submit'), monitor: hasCommand('monitor') },
    throughput: {},
    latency: {},
    rss: {},
    errors: [],
    table: [],
  };
  const pg = new Playground();
  progress(`temp folder ${pg.dir}; qm submit ${results.available.submit ? 'available' : 'not available'}, qm monitor ${results.available.monitor ? 'available' : 'not available'}`);
  try {
    if (opts.sections.has('baseline')) {
      progress(`baseline: ${opts.jobs} spawns of /bin/sh -c true, ${opts.budget} at once`);
      results.baseline = await part(results, 'baseline', () => bareSpawnRate(opts.jobs, opts.budget));
    }
    if (opts.sections.has('idle') || opts.sections.has('throughput')) await part(results, 'qm start (embedded redis)', () => embeddedStart(pg, opts, results));
    if (opts.sections.has('throughput')) await part(results, 'qm ingest + 2 qm worker', () => separateRoles(pg, opts, results));
    if (['latency', 'scale', 'monitor'].some((s) => opts.sections.has(s as never))) {
      await part(results, 'qm start (private redis)', () => latencyScaleMonitor(pg, opts, results));
    }
    if (opts.sections.has('array')) {
      if (results.available.submit) await part(results, 'qm start (array)', () => arraySection(pg, opts, results));
      else results.array = { skipped: 'qm submit not available' };
    }
  } finally {
    await pg.dispose(opts.keep);
  }
  results.machine.loadAverageAtEnd = os.loadavg().map(round2);
  results.seconds = round2((nowMs() - started) / 1000);
  results.table = tableRows(results, opts);
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n');
  process.stdout.write(formatTable(results) + '\n');
  progress(`results written to ${opts.out}${opts.keep ? `; logs and folders kept in ${pg.dir}` : ''}`);
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (results) => process.exit(results.errors.length > 0 ? 1 : 0),
    (err: Error) => {
      if (err instanceof OptionsError) {
        process.stderr.write(err.message ? `bench: ${err.message}\n${USAGE}\n` : `${USAGE}\n`);
        process.exit(2);
      }
      process.stderr.write(`bench: ${err.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
