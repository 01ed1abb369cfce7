/**
 * Issue 5 point 1: shell mode end to end. A job script written for sbatch,
 * in the spirit of the Slurm documentation's multi-threaded example, runs
 * unchanged: dropped as a lone NAME.sh, as a folder holding one .sh, or
 * through `qm submit`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { dropJob, waitDone } from '../helpers/qm.js';
import { readLog, startRunningQm, writeScript, type RunningQm } from '../helpers/cli.js';

/** Written for sbatch; nothing in it knows about QM. */
const SBATCH_SCRIPT = `#!/bin/bash
#
# Sum of squares in a few threads: a small sbatch job.
#
#SBATCH --job-name=sum_squares
#SBATCH --cpus-per-task=2
#SBATCH --time=00:10:00
#SBATCH --comment="sum of squares, threaded"
#SBATCH --mail-user=alice@example.org
#SBATCH --mail-type=END,FAIL
#SBATCH --output=sum_%j.out
#SBATCH --partition=short
#SBATCH --mem-per-cpu=100M

export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK
echo "threads: $OMP_NUM_THREADS"
#SBATCH --cpus-per-task=8

# bash, not sh: arrays and [[ ]]
parts=(1 2 3 4)
total=0
for i in "\${parts[@]}"; do
  [[ $i -gt 0 ]] && total=$(( total + i * i ))
  echo "  part $i / \${#parts[@]}"
done
echo "sum=$total nb_proc=$NB_PROC" > result.txt
`;

describe('sbatch-style scripts (shell mode)', () => {
  let env: RunningQm;
  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 4, kill_grace: 1 } });
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
  });

  it('a lone NAME.sh dropped in QM_qJobs is wrapped into NAME/ and run with bash; #SBATCH sets its keys', async () => {
    const staging = await writeScript(env.qm, 'sumsq.sh', SBATCH_SCRIPT);
    await fs.rename(staging, path.join(env.qm.queued, 'sumsq.sh'));
    const done = await waitDone(env.qm, 'sumsq');
    expect(readFileSync(path.join(done, 'sumsq.sh'), 'utf8')).toBe(SBATCH_SCRIPT);
    // -c 2 honoured; the directive after the first command is not (as in Slurm)
    expect(readFileSync(path.join(done, 'result.txt'), 'utf8')).toBe('sum=30 nb_proc=2\n');
    const log = readLog(done);
    expect(log).toContain('threads: 2\n');
    expect(log).toContain('  part 4 / 4\n');
    expect(log.trim().split('\n').at(-1)).toMatch(/with code 0$/);
    // options not honoured: logged, and one QM: line each at the top of process.log
    for (const option of ['--partition=short']) {
      expect(env.proc.output).toMatch(new RegExp(`sumsq: #SBATCH ${option} ignored: .* \\(sumsq\\.sh line \\d+\\)`));
      expect(log).toMatch(new RegExp(`^QM: #SBATCH ${option} ignored: `, 'm'));
    }
    expect(log.indexOf('QM: #SBATCH --partition')).toBeLessThan(log.indexOf('Job started by QM at:'));
    // --output honoured: the job's output is also in sum_<id>.out
    expect(readdirSync(done).find((f) => /^sum_.+\.out$/.test(f))).toBeDefined();
    const status = JSON.parse((await env.qmRun('status', '--json')).stdout) as { done: { name: string; info: string; owner: string }[] };
    const record = status.done.find((d) => d.name === 'sumsq');
    expect(record).toMatchObject({ info: 'sum of squares, threaded', owner: 'alice@example.org' });
  });

  it('a folder holding one .sh and its data runs the same way; #QM lines set QM keys', async () => {
    await dropJob(env.qm, 'withdata', {
      'job.sh': '#!/bin/sh\n#SBATCH -c 3\n#QM info=folder job\nwc -l < input.txt > count.txt\n',
      'input.txt': 'a\nb\nc\n',
    });
    const done = await waitDone(env.qm, 'withdata');
    expect(readFileSync(path.join(done, 'count.txt'), 'utf8').trim()).toBe('3');
    expect(readLog(done).split('\n')[0]).toMatch(/^Job started by QM at: /);
    const status = JSON.parse((await env.qmRun('status', '--json')).stdout) as { done: { name: string; info: string; nbProc: number }[] };
    expect(status.done.find((d) => d.name === 'withdata')).toMatchObject({ info: 'folder job', nbProc: 3 });
  });

  it('#SBATCH -t stops the job at its limit', async () => {
    await dropJob(env.qm, 'overtime', { 'run.sh': '#!/bin/bash\n#SBATCH -t 0:01\necho started\nsleep 30\necho not-reached\n' });
    const done = await waitDone(env.qm, 'overtime');
    const log = readLog(done);
    expect(log).toContain('started');
    expect(log).not.toContain('not-reached');
    expect(log).toMatch(/Reason: time limit of 1 s reached\n$/);
  });

  it('qm submit takes the script as it is: #SBATCH -J names the job, --dependency=afterok waits for it', async () => {
    const script = await writeScript(env.qm, 'first.sh', SBATCH_SCRIPT);
    const submitted = await env.qmRun('submit', script);
    expect(submitted.stdout).toBe('sum_squares\n');
    expect(submitted.stderr).toMatch(/^QM: #SBATCH --partition=short ignored: QM has no partitions: any worker with room runs the job \(first\.sh line \d+\)$/m);
    const next = await writeScript(env.qm, 'next.sh', '#!/bin/bash\n#SBATCH --dependency=afterok:sum_squares\ncat ../../QM_dJobs/*-sum_squares/result.txt\n');
    const waited = await env.qmRun('submit', next, '--wait');
    expect(waited.code).toBe(0);
    const done = await waitDone(env.qm, 'next');
    expect(readLog(done)).toContain('sum=30 nb_proc=2');
    expect(readFileSync(script, 'utf8')).toBe(SBATCH_SCRIPT);
  });
});
