/**
 * Issue 5 point 5: `after` / `--after` / `--dependency=afterok`. A job waits,
 * without holding processors, until its `after` jobs have finished with
 * code 0; if one failed, was cancelled, timed out or was lost it is not run
 * and goes to QM_dJobs marked `dependency failed`; a name that never
 * existed is refused at submit and sent to QM_lost+found at ingest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { cfgDescriptor, dropJob, lostEntries, waitDone } from '../helpers/qm.js';
import { readLog, startRunningQm, writeSource, type RunningQm } from '../helpers/cli.js';
import { readTimeline, timedScript } from '../helpers/timeline.js';
import { waitFor } from '../helpers/wait.js';

interface StatusJson {
  queued: { name: string; state: string; after: string[] }[];
  done: { name: string; result: string; outcome: { kind: string; dependency?: string } }[];
}

const waitOnFlag = (flag: string) => `while [ ! -e ${flag} ]; do sleep 0.05; done`;

describe('dependencies', () => {
  let env: RunningQm;
  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 2, kill_grace: 1 } });
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
  });

  const status = async () => JSON.parse((await env.qmRun('status', '--json', '--all')).stdout) as StatusJson;
  const submit = async (name: string, script: string, ...args: string[]) => {
    const src = await writeSource(env.qm, name, { 'proc_config.cfg': cfgDescriptor({ script }) });
    const result = await env.qmRun('submit', src, ...args);
    expect(result.stderr).toBe('');
    return result;
  };

  it('a job waits for its dependency aside, holding no processor nor its place in the queue, then runs after it', async () => {
    const flag = path.join(env.qm.base, 'release-a');
    const tl = path.join(env.qm.base, 'timeline-chain');
    await submit('a', `${waitOnFlag(flag)}; ${timedScript(tl, 1, 'true')}`);
    await waitFor(() => readFileSync(path.join(env.qm.running, 'a', 'process.log'), 'utf8'), { what: 'a running' });
    await submit('b', timedScript(tl, 2, 'true'), '--after', 'a', '--nb-proc', '2');
    await submit('c', timedScript(tl, 1, 'true'));
    // the budget is 2: c ran beside a, so b neither took the free processor nor, needing two, held back the jobs behind it
    await waitDone(env.qm, 'c');
    await waitFor(async () => (await status()).queued.find((q) => q.name === 'b' && q.state === 'after'), { what: 'b waiting for a' });
    await fs.writeFile(flag, '');
    await waitDone(env.qm, 'b');
    const events = readTimeline(tl);
    const at = (kind: string, name: string) => events.find((e) => e.kind === kind && e.name === name)!.t;
    expect(at('start', 'b') > at('end', 'a')).toBe(true);
  });

  it('a failed dependency: the job and its own dependents are not run, marked dependency failed', async () => {
    const flag = path.join(env.qm.base, 'release-f');
    await submit('f', `${waitOnFlag(flag)}; exit 2`);
    await submit('g', 'echo g-ran', '--after', 'f');
    await submit('h', 'echo h-ran', '--after', 'g');
    await fs.writeFile(flag, '');
    const g = readLog(await waitDone(env.qm, 'g'));
    const h = readLog(await waitDone(env.qm, 'h'));
    expect(g).toMatch(/^Job not run: dependency failed: f \(code 2\), at: \S+\n$/);
    expect(h).toMatch(/^Job not run: dependency failed: g \(dependency failed: f\), at: \S+\n$/);
    const done = (await status()).done;
    expect(done.find((d) => d.name === 'g')).toMatchObject({ result: 'dependency failed: f', outcome: { kind: 'dependencyFailed', dependency: 'f' } });
    // submitting after a job that failed: not run either, and --wait says so with exit code 1
    const late = await submit('late', 'echo late-ran', '--after', 'f', '--wait');
    expect(late.code).toBe(1);
    expect(late.stdout).toMatch(/late ended: dependency failed: f/);
  });

  it('a cancelled or timed-out dependency fails its dependents; one that succeeded long ago lets them run', async () => {
    const flag = path.join(env.qm.base, 'release-blocker');
    await submit('blocker', waitOnFlag(flag), '--nb-proc', '2');
    await waitFor(() => readFileSync(path.join(env.qm.running, 'blocker', 'process.log'), 'utf8'), { what: 'blocker running' });
    await submit('queued_dep', 'true');
    await submit('on_cancelled', 'echo ran', '--after', 'queued_dep');
    expect((await env.qmRun('cancel', 'queued_dep')).code).toBe(0);
    // decided when a worker has room to look at it
    await fs.writeFile(flag, '');
    expect(readLog(await waitDone(env.qm, 'on_cancelled'))).toMatch(/dependency failed: queued_dep \(cancelled by .*\)/);

    await submit('overtime', 'sleep 30', '--time', '0:01');
    await submit('on_timeout', 'echo ran', '--after', 'overtime');
    expect(readLog(await waitDone(env.qm, 'on_timeout'))).toMatch(/dependency failed: overtime \(timed out after 1 s/);

    // `blocker` succeeded: a new job after it runs at once
    expect((await submit('after_blocker', 'echo ran-after-blocker', '--after', 'blocker', '--wait')).code).toBe(0);
  });

  it('ingest: `after` naming a job that never existed, or itself, sends the folder to QM_lost+found', async () => {
    await dropJob(env.qm, 'orphan_dep', { 'proc_config.cfg': cfgDescriptor({ after: 'never_was', script: 'true' }) });
    await dropJob(env.qm, 'selfish', { 'proc_config.cfg': cfgDescriptor({ after: 'selfish', script: 'true' }) });
    await waitFor(() => lostEntries(env.qm).length >= 2, { what: 'two jobs in lost+found' });
    const reason = (name: string) => {
      const entry = lostEntries(env.qm).find((e) => e.endsWith(`-${name}`))!;
      return readFileSync(path.join(env.qm.lost, entry, 'QM_REASON.txt'), 'utf8');
    };
    expect(reason('orphan_dep')).toBe('after: no job named never_was is queued, running or finished\n');
    expect(reason('selfish')).toBe('after: job selfish cannot wait for itself\n');
  });
});

describe('dependencies Redis no longer remembers', () => {
  it('are read from the done folder (keep_done = 1 keeps only the last record)', async () => {
    const env = await startRunningQm({ QMServer: { keep_done: 1 } });
    try {
      const src = (name: string, script: string) => writeSource(env.qm, name, { 'proc_config.cfg': cfgDescriptor({ script }) });
      expect((await env.qmRun('submit', await src('old_ok', 'true'), '--wait')).code).toBe(0);
      expect((await env.qmRun('submit', await src('old_bad', 'exit 5'), '--wait')).code).toBe(5);
      expect((await env.qmRun('submit', await src('newest', 'true'), '--wait')).code).toBe(0);
      // neither old job has a record now; their folders say how they ended
      expect((await env.qmRun('submit', await src('uses_ok', 'echo fine'), '--after', 'old_ok', '--wait')).code).toBe(0);
      const bad = await env.qmRun('submit', await src('uses_bad', 'echo fine'), '--after', 'old_bad', '--wait');
      expect(bad.stdout).toMatch(/dependency failed: old_bad/);
      expect(readLog(await waitDone(env.qm, 'uses_bad'))).toMatch(/dependency failed: old_bad \(code 5\)/);
    } finally {
      expect(await env.stop()).toBe(0);
    }
  });
});
