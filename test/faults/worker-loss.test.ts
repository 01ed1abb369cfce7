/**
 * Issue 6 point 1: a worker killed with SIGKILL (or frozen, as a host that
 * vanished) while running a job. The job's processes die with it, the folder
 * is moved per on_worker_loss within seconds, other workers' jobs go on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { cfgDescriptor, doneEntries, dropJob, makeQmDir, startQm, waitDone, type QmDir, type QmProcess } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';
import { SPAWNING_SCRIPT, figure, jobProcesses, lostOf, pidsIn, procAlive, reasonOf, signalInside, startElsewhere } from './support.js';

/** Waits until `n` runs have written their line to `runs` beside the QM folder. */
const runsBegun = (qm: QmDir, n: number) =>
  waitFor(() => readFileSync(path.join(qm.base, 'runs'), 'utf8').split('\n').length > n, { what: `run ${n} to begin` });

/** Waits for the file `flag` beside the QM folder. */
const waitFlag = (qm: QmDir) => `while [ ! -e ${qm.base}/flag ]; do sleep 0.05; done`;

describe('a worker lost while running a job', () => {
  let redis: TestRedis;
  const procs: QmProcess[] = [];
  const start = (qm: QmDir, role: string, name?: string) => {
    const p = startQm([role, '-c', qm.cfg], name ? { QM_WORKER_NAME: name } : {});
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    redis = await TestRedis.start();
  });
  afterAll(async () => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.signal('SIGKILL');
    await redis.stop();
  });

  it('SIGKILL: no job process survives, the job is in lost+found within seconds, the other worker keeps its job', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/1`, MaxNbProcessors: 1 } });
    const ingest = start(qm, 'ingest');
    const a = start(qm, 'worker', 'A');
    await ingest.waitForOutput(/watching/);
    await a.waitForOutput(/ready/);
    await dropJob(qm, 'victim', { 'proc_config.cfg': cfgDescriptor({ script: 'sh spawn.sh' }), 'spawn.sh': SPAWNING_SCRIPT });
    await a.waitForOutput(/victim: started/);
    const b = start(qm, 'worker', 'B');
    await b.waitForOutput(/ready/);
    await dropJob(qm, 'bystander', { 'proc_config.cfg': cfgDescriptor({ script: `${waitFlag(qm)}; echo bystander-done` }) });
    await b.waitForOutput(/bystander: started/);
    const pids = await waitFor(() => {
      const p = pidsIn(path.join(qm.running, 'victim', 'pids'));
      return p.length === 3 && p;
    });

    const killedAt = Date.now();
    a.signal('SIGKILL');
    await waitFor(() => pids.every((pid) => !procAlive(pid)), { what: 'the job processes to die' });
    const entry = await waitFor(() => lostOf(qm, 'victim')[0], { what: 'victim in lost+found', timeout: 40_000 });
    figure('worker SIGKILL → job in lost+found (same host)', `${((Date.now() - killedAt) / 1000).toFixed(1)} s`);
    expect(reasonOf(qm, entry)).toMatch(/^worker lost: A on .* died \(pid \d+\) while running it/);
    expect(readFileSync(path.join(qm.lost, entry, 'process.log'), 'utf8')).toMatch(/Job lost at: /);
    expect(pids.filter(procAlive)).toEqual([]);

    // B's job was never touched
    expect(await fs.readdir(qm.running)).toEqual(['bystander']);
    await fs.writeFile(path.join(qm.base, 'flag'), '');
    const done = await waitDone(qm, 'bystander');
    expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toMatch(/bystander-done\nJob finished at: .* with code 0/);
    expect(doneEntries(qm, 'victim')).toEqual([]);
    for (const p of [ingest, b]) expect(await p.stop()).toBe(0);
    qm.cleanup();
  });

  it('a worker restarted under the same name settles what its killed instance left at once', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/2`, MaxNbProcessors: 2 } });
    const ingest = start(qm, 'ingest');
    const first = start(qm, 'worker', 'same');
    await first.waitForOutput(/ready/);
    await dropJob(qm, 'left', { 'proc_config.cfg': cfgDescriptor({ script: 'sh spawn.sh' }), 'spawn.sh': SPAWNING_SCRIPT });
    await first.waitForOutput(/left: started/);
    const pids = await waitFor(() => {
      const p = pidsIn(path.join(qm.running, 'left', 'pids'));
      return p.length === 3 && p;
    });
    first.signal('SIGKILL');
    await first.exited;
    const restartedAt = Date.now();
    const second = start(qm, 'worker', 'same');
    const entry = await waitFor(() => lostOf(qm, 'left')[0], { what: 'left in lost+found' });
    figure('worker restarted under its name → its leftover in lost+found', `${((Date.now() - restartedAt) / 1000).toFixed(1)} s`);
    expect(reasonOf(qm, entry)).toMatch(/^worker lost: same on .* (was restarted|died)/);
    await waitFor(() => pids.every((pid) => !procAlive(pid)), { what: 'the job processes to die' });

    // and it serves the next job
    await dropJob(qm, 'next', { 'proc_config.cfg': cfgDescriptor({ script: 'echo next' }) });
    await waitDone(qm, 'next');
    for (const p of [ingest, second]) expect(await p.stop()).toBe(0);
    qm.cleanup();
  });

  it('a second worker under a name in use is refused with one line, exit 2', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/3` } });
    const one = start(qm, 'worker', 'twin');
    await one.waitForOutput(/ready/);
    const two = start(qm, 'worker', 'twin');
    expect(await two.exited).toBe(2);
    expect(two.output).toMatch(/qm: worker_name twin is in use by a running worker/);
    expect(await one.stop()).toBe(0);
    qm.cleanup();
  });

  it('a frozen worker on another machine (a host gone silent) is declared lost when its heartbeat lapses, and its job is killed', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/4`, MaxNbProcessors: 1 } });
    const ingest = start(qm, 'ingest');
    // on "another machine" (its own pid namespace), so only its heartbeat tells
    const frozen = startElsewhere(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'frozen' });
    procs.push(frozen);
    await ingest.waitForOutput(/watching/);
    await frozen.waitForOutput(/ready/);
    await dropJob(qm, 'stuck', { 'proc_config.cfg': cfgDescriptor({ script: 'sh spawn.sh' }), 'spawn.sh': SPAWNING_SCRIPT });
    await frozen.waitForOutput(/stuck: started/);
    // its pids are those of its namespace: look for the job's processes by their QM_JOB_DIR
    await waitFor(() => pidsIn(path.join(qm.running, 'stuck', 'pids')).length === 3);
    expect(jobProcesses(qm).length).toBeGreaterThanOrEqual(3); // the shells, two sleeps, the sentinel
    const frozenAt = Date.now();
    await signalInside(frozen, 'SIGSTOP');
    const entry = await waitFor(() => lostOf(qm, 'stuck')[0], { what: 'stuck in lost+found', timeout: 40_000 });
    figure('worker frozen (heartbeat lapses) → job in lost+found', `${((Date.now() - frozenAt) / 1000).toFixed(1)} s`);
    expect(reasonOf(qm, entry)).toMatch(/^worker lost: frozen on .* stopped sending its heartbeat/);
    await waitFor(() => jobProcesses(qm).length === 0, { what: 'the job processes to die' });

    // woken up, it finds its job gone, records nothing twice and serves again
    await signalInside(frozen, 'SIGCONT');
    await dropJob(qm, 'after', { 'proc_config.cfg': cfgDescriptor({ script: 'echo after' }) });
    await waitDone(qm, 'after');
    expect(doneEntries(qm, 'stuck')).toEqual([]);
    expect(lostOf(qm, 'stuck')).toHaveLength(1);
    expect(await ingest.stop()).toBe(0);
    await signalInside(frozen, 'SIGTERM');
    expect(await frozen.exited).toBe(0);
    qm.cleanup();
  });

  it('a frozen worker of another machine that wakes after its job was requeued and started elsewhere leaves the new run alone', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/7`, MaxNbProcessors: 1, on_worker_loss: 'requeue' } });
    const ingest = start(qm, 'ingest');
    const sleeper = startElsewhere(['worker', '-c', qm.cfg], { QM_WORKER_NAME: 'sleeper' });
    procs.push(sleeper);
    await sleeper.waitForOutput(/ready/);
    await dropJob(qm, 'moved', { 'proc_config.cfg': cfgDescriptor({ script: `echo run >> ${qm.base}/runs; ${waitFlag(qm)}; echo finished` }) });
    await sleeper.waitForOutput(/moved: started/);
    await runsBegun(qm, 1);
    const other = start(qm, 'worker', 'other');
    await other.waitForOutput(/ready/);
    await signalInside(sleeper, 'SIGSTOP');
    await other.waitForOutput(/moved: started/, 40_000);
    await signalInside(sleeper, 'SIGCONT');
    await sleeper.waitForOutput(/moved: could not finish: declared lost while this worker could not reach Redis/);
    expect(await fs.readdir(qm.running)).toEqual(['moved']);
    await fs.writeFile(path.join(qm.base, 'flag'), '');
    const done = await waitDone(qm, 'moved');
    expect(readFileSync(path.join(done, 'process.log'), 'utf8')).toMatch(/finished\nJob finished at: .* with code 0\n$/);
    expect(readFileSync(path.join(qm.base, 'runs'), 'utf8')).toBe('run\nrun\n');
    expect(doneEntries(qm, 'moved')).toHaveLength(1);
    expect(lostOf(qm, 'moved')).toEqual([]);
    for (const p of [ingest, other]) expect(await p.stop()).toBe(0);
    await signalInside(sleeper, 'SIGTERM');
    expect(await sleeper.exited).toBe(0);
    qm.cleanup();
  });

  it('on_worker_loss = requeue: requeued once, then lost+found when lost again', async () => {
    const qm = makeQmDir({ QMServer: { redis_url: `${redis.url}/5`, MaxNbProcessors: 1, on_worker_loss: 'requeue' } });
    const ingest = start(qm, 'ingest');
    const a = start(qm, 'worker', 'RA');
    await a.waitForOutput(/ready/);
    await dropJob(qm, 'again', { 'proc_config.cfg': cfgDescriptor({ script: `echo run >> ${qm.base}/runs; ${waitFlag(qm)}` }) });
    await a.waitForOutput(/again: started/);
    await runsBegun(qm, 1);
    const b = start(qm, 'worker', 'RB');
    await b.waitForOutput(/ready/);
    a.signal('SIGKILL');
    await b.waitForOutput(/again: started/, 40_000);
    const log = readFileSync(path.join(qm.running, 'again', 'process.log'), 'utf8');
    expect(log).toMatch(/Job lost at: .*worker lost: RA .*\nJob started by QM at:/);
    await runsBegun(qm, 2);
    b.signal('SIGKILL');
    const entry = await waitFor(() => lostOf(qm, 'again')[0], { what: 'again in lost+found', timeout: 40_000 });
    expect(reasonOf(qm, entry)).toMatch(/^worker lost: RB /);
    expect(readFileSync(path.join(qm.base, 'runs'), 'utf8')).toBe('run\nrun\n');
    expect(doneEntries(qm, 'again')).toEqual([]);
    expect(await ingest.stop()).toBe(0);
    qm.cleanup();
  });
});
