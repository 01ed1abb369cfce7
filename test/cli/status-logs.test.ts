/** Issue 5 point 3: `qm status` (text and --json) and `qm logs [-f]` against a running `qm start`. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { cfgDescriptor, startQm, waitDone } from '../helpers/qm.js';
import { startRunningQm, writeSource, type RunningQm } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

interface StatusJson {
  version: number;
  qmFolder: string;
  queued: { position: number | null; name: string; state: string; priority: number | null; nbProc: number | null; after: string[]; owner: string | null; worker: string | null }[];
  queuedTotal: number;
  running: { name: string; nbProc: number; host: string; worker: string; elapsedSeconds: number; progress: { done: number; total: number; percent: number } | null; info: string | null }[];
  done: { name: string; result: string; exitCode: number; folder: string; elapsedSeconds: number | null }[];
  doneTotal: number;
}

describe('qm status and qm logs', () => {
  let env: RunningQm;
  const flag = () => path.join(env.qm.base, 'release');
  beforeAll(async () => {
    // settle_time 30: a folder dropped by hand stays "arriving" during the test
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 2, settle_time: 30 } });
  });
  afterAll(async () => {
    await fs.writeFile(flag(), '').catch(() => undefined);
    expect(await env.stop()).toBe(0);
  });

  const status = async () => JSON.parse((await env.qmRun('status', '--json')).stdout) as StatusJson;
  const submit = async (name: string, options: Record<string, string | number>, ...args: string[]) => {
    const src = await writeSource(env.qm, name, { 'proc_config.cfg': cfgDescriptor(options) });
    const result = await env.qmRun('submit', src, ...args);
    expect(result.code).toBe(0);
  };

  it('shows an empty QM', async () => {
    const { code, stdout } = await env.qmRun('status');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^QUEUED \(0\)\nRUNNING \(0\)\nDONE \(0\)\nWORKERS \(1\)\n +WORKER +HOST +PROCS +GPUS +MEMORY\n +\S+ +\S+ +0\/\d+ +- +0 MB\/\d+ (MB|GB)\n$/);
  });

  it('lists queued jobs in run order, running ones with progress, and says why each waits', async () => {
    await submit('worker_bee', { info: 'counts to ten', script: `echo "time: 3"; for i in 1 2 3; do echo "  step $i / 10"; done; while [ ! -e ${flag()} ]; do sleep 0.05; done` });
    await waitFor(async () => (await status()).running.find((r) => r.progress?.done === 3), { what: 'progress 3/10' });
    await submit('waits_for_bee', { script: 'true' }, '--after', 'worker_bee');
    await waitFor(async () => (await status()).queued.find((q) => q.state === 'after'), { what: 'dependency wait' });
    // one processor is free: a job of two at the head of the queue holds back those behind it
    await submit('big', { nb_proc: 2, e_mail: 'big@example.org', script: 'true' });
    await submit('low', { script: 'true' });
    await submit('high', { nb_proc: 2, script: 'true' }, '--priority', '5');
    await fs.mkdir(path.join(env.qm.queued, 'arriving'));

    const view = await status();
    expect(view.version).toBe(1);
    expect(view.qmFolder).toBe(env.qm.root);
    expect(view.queued.map((q) => [q.position, q.name, q.state])).toEqual([
      [1, 'high', 'queued'],
      [2, 'big', 'queued'],
      [3, 'low', 'queued'],
      [null, 'waits_for_bee', 'after'],
      [null, 'arriving', 'settling'],
    ]);
    expect(view.queuedTotal).toBe(5);
    expect(view.queued[1]).toMatchObject({ nbProc: 2, priority: 0, owner: 'big@example.org', worker: null });
    expect(view.queued[3]!.after).toEqual(['worker_bee']);
    expect(view.running).toEqual([
      expect.objectContaining({ name: 'worker_bee', nbProc: 1, info: 'counts to ten', progress: { done: 3, total: 10, percent: 30 }, reportedSeconds: 3 }),
    ]);

    const text = (await env.qmRun('status')).stdout;
    const me = os.userInfo().username;
    expect(text).toMatch(new RegExp(`^QUEUED \\(5\\)\\n  #  NAME +USER +PRIO +PROCS +STATE +REASON +INFO\\n  1  high +${me} +5 +2 +queued +Resources: needs 2 CPUs, 1 free +-\\n  2  big +${me} +0 +2 +queued +Priority +-\\n`));
    expect(text).toMatch(/\n  -  waits_for_bee +\S+ +0 +1 +after +Dependency: worker_bee +-\n/);
    expect(text).toMatch(/\n  -  arriving +- +- +- +arriving +Settling +-\n/);
    expect(text).toMatch(/\nRUNNING \(1\)\n  NAME +USER +PROCS +ELAPSED +PROGRESS +HOST +WORKER +OWNER +INFO\n  worker_bee +\S+ +1 +\d+:\d\d +3\/10 \(30%\) time: 3 s +\S+ +\S+ +- +counts to ten\n/);
    await fs.rmdir(path.join(env.qm.queued, 'arriving'));
  });

  it('qm logs prints a running job\'s log; -f follows it, and a queued job\'s, to the end', async () => {
    const now = await env.qmRun('logs', 'worker_bee');
    expect(now.code).toBe(0);
    expect(now.stdout).toMatch(/^Job started by QM at: \S+\ntime: 3\n  step 1 \/ 10\n  step 2 \/ 10\n  step 3 \/ 10\n$/);
    const queued = await env.qmRun('logs', 'low');
    expect(queued).toMatchObject({ code: 0, stdout: '', stderr: 'qm: low is queued and has not started yet (qm logs -f waits for it)\n' });

    const following = startQm(['logs', '-f', 'worker_bee', '-c', env.qm.cfg]);
    const waiting = startQm(['logs', '--follow', 'low', '-c', env.qm.cfg]);
    await following.waitForOutput(/step 3 \/ 10\n/);
    await fs.writeFile(flag(), '');
    expect(await following.exited).toBe(0);
    expect(following.output).toMatch(/step 3 \/ 10\nJob finished at: \S+ with code 0\n$/);
    expect(await waiting.exited).toBe(0);
    expect(waiting.output).toMatch(/^Job started by QM at: \S+\nJob finished at: \S+ with code 0\n$/);
  });

  it('lists finished jobs, newest first; logs of a finished job and of an unknown one', async () => {
    await waitDone(env.qm, 'waits_for_bee');
    await waitFor(async () => (await status()).doneTotal === 5, { what: 'five done' });
    const view = await status();
    expect(view.done.map((d) => d.name).sort()).toEqual(['big', 'high', 'low', 'waits_for_bee', 'worker_bee']);
    expect(view.done[0]).toMatchObject({ result: 'code 0', exitCode: 0, folder: expect.stringMatching(/^QM_dJobs\/\S+/) });
    expect(view.queued).toEqual([]);
    const text = (await env.qmRun('status', '--all')).stdout;
    expect(text).toMatch(/\nDONE \(5\)\n  NAME +USER +RESULT +ELAPSED +CPU +ENDED +FOLDER\n/);
    expect(text).toMatch(/\n  worker_bee +\S+ +code 0 +\d+:\d\d +\d+:\d\d +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +QM_dJobs\/\S+-worker_bee\n/);

    const finished = await env.qmRun('logs', 'worker_bee');
    expect(finished.stdout).toMatch(/step 3 \/ 10\nJob finished at: \S+ with code 0\n$/);
    const unknown = await env.qmRun('logs', 'no_such_job');
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'qm: no job named no_such_job (queued, running or finished)\n' });
  });
});
