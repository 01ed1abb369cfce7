/**
 * Issue 6 point 9, the soak: SOAK_JOBS jobs (300 in the test suite, 5,000 with
 * `npm run soak`) stream through two steady workers while a third is killed
 * (SIGKILL) and restarted under its name every SOAK_KILL_MS. Afterwards:
 * count in = count out (QM_dJobs + QM_lost+found), no job ran twice, no job
 * process is left, and the memory of each long-lived process stayed flat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, lostEntries, makeQmDir, startQm, type QmDir, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { figure, jobProcesses } from '../faults/support.js';

const JOBS = Number(process.env.SOAK_JOBS ?? 300);
const KILL_MS = Number(process.env.SOAK_KILL_MS ?? 3000);
/** jobs queued ahead of the workers: the stream is fed as it drains */
const AHEAD = 300;

const nameOf = (i: number) => `s${String(i).padStart(5, '0')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resident memory of a process, in MB. */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

describe(`soak: ${JOBS} jobs, a worker killed every ${KILL_MS / 1000} s`, () => {
  let redis: TestRedis;
  let qm: QmDir;
  const steady: QmProcess[] = [];
  let victim: QmProcess | undefined;

  beforeAll(async () => {
    redis = await TestRedis.start();
    qm = makeQmDir({ QMServer: { redis_url: redis.url, MaxNbProcessors: 4, settle_time: 0.2 } });
    steady.push(startQm(['ingest', '-c', qm.cfg], { QM_LOG_LEVEL: 'info' }));
    for (const name of ['steady1', 'steady2']) steady.push(startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: name, QM_LOG_LEVEL: 'info' }));
    await steady[0]!.waitForOutput(/watching/);
  });

  afterAll(async () => {
    if (victim && victim.child.exitCode === null) victim.signal('SIGKILL');
    for (const p of steady) if (p.child.exitCode === null) p.signal('SIGKILL');
    await redis.stop();
    qm.cleanup();
  });

  it('count in = count out, none twice, no process left, memory flat', { timeout: Math.max(180_000, JOBS * 300) }, async () => {
    const startedAt = Date.now();
    const runs = path.join(qm.base, 'runs');
    const ended = () => doneEntries(qm).length + lostEntries(qm).length;
    let dropped = 0;
    let stopped = false;
    let kills = 0;
    const memory = new Map<string, number[]>(['ingest', 'steady1', 'steady2'].map((n) => [n, []]));

    const feed = (async () => {
      while (dropped < JOBS) {
        if (dropped - ended() >= AHEAD) {
          await sleep(100);
          continue;
        }
        const name = nameOf(dropped);
        const body = `echo ${name} >> ${runs}; sleep 0.${dropped % 4}`;
        await dropJob(qm, name, { 'proc_config.cfg': cfgDescriptor({ script: body }) });
        dropped += 1;
      }
    })();
    const killer = (async () => {
      while (!stopped) {
        victim = startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'victim', QM_LOG_LEVEL: 'info' });
        await sleep(KILL_MS);
        victim.signal('SIGKILL');
        await victim.exited;
        kills += 1;
      }
    })();
    const sampler = (async () => {
      while (!stopped) {
        ['ingest', 'steady1', 'steady2'].forEach((n, i) => memory.get(n)!.push(rssMb(steady[i]!.child.pid!)));
        await sleep(1000);
      }
    })();

    await feed;
    await waitFor(() => ended() >= JOBS, { timeout: Math.max(120_000, JOBS * 200), interval: 500, what: `${JOBS} jobs ended` });
    stopped = true;
    await Promise.all([killer, sampler]);
    const seconds = (Date.now() - startedAt) / 1000;

    // count in = count out, each job once
    const done = doneEntries(qm).map((e) => e.slice(20));
    const lost = lostEntries(qm).map((e) => e.slice(20));
    const all = [...done, ...lost].sort();
    expect(all).toEqual(Array.from({ length: JOBS }, (_, i) => nameOf(i)));
    for (const entry of lostEntries(qm)) {
      expect(readFileSync(path.join(qm.lost, entry, 'QM_REASON.txt'), 'utf8')).toMatch(/^worker lost: victim /);
    }
    // no job ran twice; every done job ran
    const ran = readFileSync(runs, 'utf8').trim().split('\n');
    expect(ran.length).toBe(new Set(ran).size);
    const ranSet = new Set(ran);
    for (const name of done) expect(ranSet.has(name)).toBe(true);
    // nothing left behind
    expect(readdirSync(qm.queued)).toEqual([]);
    await waitFor(async () => (await fs.readdir(qm.running)).length === 0, { what: 'QM_Jobs empty' });
    await waitFor(() => jobProcesses(qm).length === 0, { what: 'no job process left' });
    // memory flat: the last tenth of the run against its second tenth (after warm-up)
    const rss: string[] = [];
    for (const [name, samples] of memory) {
      const tenth = Math.max(1, Math.floor(samples.length / 10));
      const early = median(samples.slice(tenth, 2 * tenth));
      const late = median(samples.slice(-tenth));
      rss.push(`${name} ${early.toFixed(0)}→${late.toFixed(0)} MB`);
      expect(late).toBeLessThan(early * 1.5 + 30);
    }

    figure(`soak ${JOBS} jobs: in / done / lost+found / ran twice / left processes`, `${JOBS} / ${done.length} / ${lost.length} / 0 / 0`);
    figure(`soak ${JOBS} jobs: worker kills, duration, throughput`, `${kills} kills, ${seconds.toFixed(0)} s, ${(JOBS / seconds).toFixed(1)} jobs/s`);
    figure(`soak ${JOBS} jobs: resident memory (median, second tenth → last tenth)`, rss.join(', '));
    for (const p of steady) expect(await p.stop()).toBe(0);
  });
});
