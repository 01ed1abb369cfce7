/**
 * Issue 15 point 1: job arrays end to end, through the real `qm`: tasks
 * NAME_i each with their own folder, log, record and SLURM_ARRAY_*; `%K`
 * enforced over several workers (checked from the tasks' own timestamps);
 * --wait on every task; cancel of one task and of the whole array; `after`
 * an array; qm status counts; the template leaves QM_qJobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cfgDescriptor, doneEntries, dropJob, makeQmDir, runQm, startQm, waitDone, type QmDir, type QmProcess } from '../helpers/qm.js';
import { readLog, writeScript } from '../helpers/cli.js';
import { TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

const TASK = `#!/bin/bash
#SBATCH --job-name=arr
#SBATCH --array=1-6%2
echo "task=$SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID count=$SLURM_ARRAY_TASK_COUNT min=$SLURM_ARRAY_TASK_MIN max=$SLURM_ARRAY_TASK_MAX step=$SLURM_ARRAY_TASK_STEP name=$SLURM_JOB_NAME qm=$QM_JOB_NAME"
date +%s.%N > start
sleep 0.6
date +%s.%N > end
echo "$SLURM_ARRAY_TASK_ID" > "$SLURM_SUBMIT_DIR/out_$SLURM_ARRAY_TASK_ID"
`;

describe('job arrays', () => {
  let redis: TestRedis;
  let qm: QmDir;
  let procs: QmProcess[] = [];
  const qmRun = (...args: string[]) => runQm([...args, '-c', qm.cfg]);
  beforeAll(async () => {
    redis = await TestRedis.start();
    qm = makeQmDir({ QMServer: { redis_url: redis.url, MaxNbProcessors: 2, kill_grace: 1 } });
    const ingest = startQm(['ingest', '-c', qm.cfg]);
    // two workers of 2 processors: only %K keeps the tasks of an array to K at once
    const workers = ['one', 'two'].map((name) => startQm(['worker', '-c', qm.cfg], { QM_WORKER_NAME: name }));
    procs = [ingest, ...workers];
    await ingest.waitForOutput(/watching/);
    for (const [i, name] of ['one', 'two'].entries()) await workers[i]!.waitForOutput(new RegExp(`worker ${name} ready`));
  });
  afterAll(async () => {
    const codes = await Promise.all(procs.map((p) => p.stop()));
    await redis.stop();
    qm.cleanup();
    expect(codes.every((c) => c === 0)).toBe(true);
  });

  it('runs every task in a folder of its own with the SLURM_ARRAY_* variables, at most %K at once over two workers', async () => {
    const script = await writeScript(qm, 'arr.sh', TASK);
    const submitDir = path.join(qm.base, 'src');
    const submitted = await runQm(['-c', qm.cfg, 'submit', '--wait', script], {}, submitDir);
    expect(submitted.stdout).toMatch(/^arr\narr ended: 6 task\(s\), 6 succeeded, 0 did not; worst code 0\n$/);
    expect(submitted.code).toBe(0);
    const spans: Array<[number, number]> = [];
    for (let i = 1; i <= 6; i++) {
      const [entry] = doneEntries(qm, `arr_${i}`);
      expect(entry).toBeDefined();
      const folder = path.join(qm.done, entry!);
      expect(readLog(folder)).toMatch(new RegExp(`task=${i} of \\S+ count=6 min=1 max=6 step=1 name=arr qm=arr_${i}\\n`));
      spans.push([Number(readFileSync(path.join(folder, 'start'), 'utf8')), Number(readFileSync(path.join(folder, 'end'), 'utf8'))]);
      // written where qm submit ran, as under Slurm
      expect(readFileSync(path.join(submitDir, `out_${i}`), 'utf8')).toBe(`${i}\n`);
    }
    // at every task's start, at most 2 tasks run (its own included)
    for (const [start] of spans) expect(spans.filter(([s, e]) => s <= start && e > start).length).toBeLessThanOrEqual(2);
    // and the two workers did run two at once: the limit, not a single processor, held them
    expect(spans.some(([start]) => spans.filter(([s, e]) => s <= start && e > start).length === 2)).toBe(true);
    expect(existsSync(path.join(qm.queued, 'arr'))).toBe(false);
  });

  it('qm status shows an array as one line with counts; --all lists its tasks; cancel one task, then the array', async () => {
    const script = await writeScript(qm, 'big.sh', '#!/bin/sh\n#SBATCH --array=0-9%1\nsleep 30\n');
    expect((await qmRun('submit', script)).stdout).toBe('big\n');
    await waitFor(() => readdirSync(qm.running).includes('big_0'), { timeout: 10_000 });
    const status = await qmRun('status');
    expect(status.stdout).toMatch(/big\s+array 0-9%1: 9 queued, 1 running, 0 done, 0 failed/);
    // as squeue: the queued tasks fold into the array's line, the running one is listed
    expect(status.stdout).toMatch(/QUEUED \(9\) — 9 of them array tasks, counted under ARRAYS\n/);
    expect(status.stdout).toMatch(/RUNNING \(1\)\n.*\n\s+big_0\s/);
    expect(status.stdout).not.toMatch(/big_5/);
    const all = await qmRun('status', '--all');
    expect(all.stdout).toMatch(/big_5/);
    // a task held back by %K says so (Slurm's reason)
    const json = JSON.parse((await qmRun('status', '--json')).stdout) as { queued: Array<{ name: string; reason: string }>; arrays: Array<{ name: string; queued: number }> };
    expect(json.queued.find((q) => q.name === 'big_1')?.reason).toBe('ArrayTaskLimit');
    expect(json.arrays).toMatchObject([{ name: 'big', queued: 9 }]);
    const one = await qmRun('cancel', 'big_5');
    expect(one.stdout).toMatch(/big_5: cancelled before it started/);
    const whole = await qmRun('cancel', 'big');
    expect(whole.stdout).toMatch(/big: 8 queued task\(s\) cancelled, 1 running task\(s\) to stop/);
    expect(whole.stdout).toMatch(/big_0: killed by/);
    await waitFor(() => !existsSync(path.join(qm.queued, 'big')), { timeout: 10_000 });
    expect(doneEntries(qm, 'big')).toHaveLength(1);
    // the tasks that never ran point at the array's folder where it went, cancelled alone or with the array
    const [template] = doneEntries(qm, 'big');
    for (const task of ['big_5', 'big_6']) expect((await qmRun('show', task)).stdout).toContain(`\nFolder=QM_dJobs/${template}\n`);
  });

  it('the same array script submitted again is a new array: every task runs again, under a new array id', async () => {
    const script = await writeScript(qm, 'again.sh', '#!/bin/sh\n#SBATCH --array=1-3\necho "array $SLURM_ARRAY_JOB_ID"\n');
    const arrayIdOf = (name: string) => doneEntries(qm, name).map((entry) => /array (\S+)/.exec(readLog(path.join(qm.done, entry)))?.[1]);
    for (const round of [1, 2]) {
      expect((await qmRun('submit', script)).stdout).toBe('again\n');
      for (const i of [1, 2, 3]) await waitFor(() => doneEntries(qm, `again_${i}`).length === round, { timeout: 15_000, what: `again_${i} done ${round} time(s)` });
      await waitFor(() => !existsSync(path.join(qm.queued, 'again')), { timeout: 10_000 });
    }
    const ids = [1, 2, 3].map((i) => new Set(arrayIdOf(`again_${i}`)));
    // each task ran once in each array, and the two arrays have different ids
    for (const set of ids) expect(set.size).toBe(2);
    expect(new Set(ids.flatMap((set) => [...set])).size).toBe(2);
  });

  it('a cancelled array requeued is a new array: every task runs, the one killed and the one never started alike', async () => {
    const flag = path.join(qm.base, 'go-requeue');
    const script = await writeScript(qm, 'rq.sh', `#!/bin/sh\n#SBATCH --array=1-2%1\n[ -e ${flag} ] || sleep 30\necho "task $SLURM_ARRAY_TASK_ID"\n`);
    expect((await qmRun('submit', script)).stdout).toBe('rq\n');
    await waitFor(() => existsSync(path.join(qm.running, 'rq_1', 'process.log')), { timeout: 10_000, what: 'rq_1 running' });
    expect((await qmRun('cancel', 'rq')).code).toBe(0);
    await waitFor(() => doneEntries(qm, 'rq').length === 1 && doneEntries(qm, 'rq_1').length === 1, { timeout: 15_000, what: 'rq cancelled' });
    writeFileSync(flag, '');
    expect((await qmRun('requeue', 'rq')).code).toBe(0);
    for (const i of [1, 2]) {
      await waitFor(() => doneEntries(qm, `rq_${i}`).some((e) => readLog(path.join(qm.done, e)).includes(`task ${i}\n`)), { timeout: 15_000, what: `rq_${i} run again` });
    }
  });

  it('a dropped folder job with the key array: each task runs the cfg script in a copy of the folder', async () => {
    await dropJob(qm, 'sweep', { 'proc_config.cfg': cfgDescriptor({ array: '0-20:10', script: 'echo "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_STEP" > id.txt; cat input.txt' }), 'input.txt': 'shared input\n' });
    for (const i of [0, 10, 20]) {
      const folder = await waitDone(qm, `sweep_${i}`);
      expect(readFileSync(path.join(folder, 'id.txt'), 'utf8')).toBe(`${i} 10\n`);
      expect(readLog(folder)).toContain('shared input\n');
    }
    await waitFor(() => !existsSync(path.join(qm.queued, 'sweep')), { timeout: 10_000 });
  });

  it('an array whose dependency failed: no task runs, each is recorded so, the array folder goes to QM_dJobs', async () => {
    const bad = await writeScript(qm, 'bad.sh', '#!/bin/sh\nexit 2\n');
    expect((await qmRun('submit', '--wait', bad)).code).toBe(2);
    const arr = await writeScript(qm, 'never.sh', '#!/bin/sh\n#SBATCH --array=1-3\n#SBATCH -d afterok:bad\necho ran\n');
    const waited = await qmRun('submit', '--wait', arr);
    expect(waited.stdout).toMatch(/never ended: 3 task\(s\), 0 succeeded, 3 did not; worst code 1/);
    const json = JSON.parse((await qmRun('status', '--json', '--all')).stdout) as { done: Array<{ name: string; result: string }> };
    for (const i of [1, 2, 3]) expect(json.done.find((d) => d.name === `never_${i}`)?.result).toBe('dependency failed: bad');
    await waitFor(() => doneEntries(qm, 'never').length === 1, { timeout: 10_000 });
    expect(readLog(path.join(qm.done, doneEntries(qm, 'never')[0]!))).toMatch(/dependency failed: bad/);
  });

  it('after NAME waits for every task of the array', async () => {
    const arr = await writeScript(qm, 'fan.sh', '#!/bin/sh\n#SBATCH -a 1-3\nsleep 0.$SLURM_ARRAY_TASK_ID\ndate +%s.%N > "$SLURM_SUBMIT_DIR/fan_$SLURM_ARRAY_TASK_ID"\n');
    const join = await writeScript(qm, 'join.sh', '#!/bin/sh\n#SBATCH --dependency=afterok:fan\ndate +%s.%N > "$SLURM_SUBMIT_DIR/join"\n');
    const cwd = path.join(qm.base, 'src');
    expect((await runQm(['-c', qm.cfg, 'submit', arr], {}, cwd)).stdout).toBe('fan\n');
    expect((await runQm(['-c', qm.cfg, 'submit', '--wait', join], {}, cwd)).code).toBe(0);
    const at = (f: string) => Number(readFileSync(path.join(cwd, f), 'utf8'));
    for (const i of [1, 2, 3]) expect(at('join')).toBeGreaterThan(at(`fan_${i}`));
    await waitDone(qm, 'join');
  });
});

