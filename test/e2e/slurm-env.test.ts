/**
 * Issue 15 points 2-5 end to end: a script runs by its #! line (bash -e
 * stops at the first failure, a python script is run by python), sees the
 * SLURM_* environment and a TMPDIR of its own that is gone after it,
 * --output/--error name files in the job folder while process.log stays
 * complete, and `srun -n N` runs N copies with their SLURM_PROCID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runQm, waitDone } from '../helpers/qm.js';
import { readLog, startRunningQm, writeScript, type RunningQm } from '../helpers/cli.js';

describe('Slurm scripts: interpreter, environment, output files, srun', () => {
  let env: RunningQm;
  let cwd: string;
  const submit = (...args: string[]) => runQm(['-c', env.qm.cfg, 'submit', ...args], {}, cwd);
  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 4, kill_grace: 1 } });
    cwd = path.join(env.qm.base, 'src');
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
  });

  it('#!/bin/bash -e keeps its -e: the script stops at its first failing command', async () => {
    const script = await writeScript(env.qm, 'strict.sh', '#!/bin/bash -e\necho before\nfalse\necho after\n');
    const result = await submit('--wait', script);
    expect(result.code).toBe(1);
    const log = readLog(await waitDone(env.qm, 'strict'));
    expect(log).toContain('before\n');
    expect(log).not.toContain('after\n');
  });

  it('#!/usr/bin/env python3 with #SBATCH comment lines is run by python, with its arguments', async () => {
    const script = await writeScript(env.qm, 'fit.py', '#!/usr/bin/env python3\n#SBATCH -J pyfit\n#SBATCH -c 2\nimport os, sys\nprint("py", sys.argv[1:], os.environ["SLURM_CPUS_PER_TASK"])\n');
    const result = await submit('--wait', script, 'a b', '--flag');
    expect(result.stdout).toMatch(/^pyfit\n/);
    expect(result.code).toBe(0);
    expect(readLog(await waitDone(env.qm, 'pyfit'))).toContain("py ['a b', '--flag'] 2\n");
  });

  it('sees the SLURM_* variables, and a TMPDIR of its own removed after it', async () => {
    const script = await writeScript(env.qm, 'vars.sh', `#!/bin/bash
set -u
for v in SLURM_JOB_ID SLURM_JOBID SLURM_JOB_NAME SLURM_SUBMIT_DIR SLURM_SUBMIT_HOST SLURM_JOB_NODELIST SLURMD_NODENAME SLURM_JOB_NUM_NODES TMPDIR SLURM_TMPDIR QM_JOB_ID; do
  echo "$v=\${!v}"
done
touch "$TMPDIR/scratch" && echo tmp-ok
cd "$SLURM_SUBMIT_DIR" && echo "from job" > vars.out
`);
    expect((await submit('--wait', script)).code).toBe(0);
    const log = readLog(await waitDone(env.qm, 'vars'));
    const value = (v: string) => new RegExp(`^${v}=(.*)$`, 'm').exec(log)?.[1];
    expect(value('SLURM_JOB_ID')).toBe(value('QM_JOB_ID'));
    expect(value('SLURM_JOBID')).toBe(value('QM_JOB_ID'));
    expect(value('SLURM_JOB_NAME')).toBe('vars');
    expect(value('SLURM_SUBMIT_DIR')).toBe(cwd);
    expect(value('SLURM_SUBMIT_HOST')).toBe(os.hostname());
    expect(value('SLURMD_NODENAME')).toBe(os.hostname().split('.')[0]);
    expect(value('SLURM_JOB_NODELIST')).toBe(os.hostname().split('.')[0]);
    expect(value('SLURM_JOB_NUM_NODES')).toBe('1');
    expect(value('SLURM_TMPDIR')).toBe(value('TMPDIR'));
    expect(log).toContain('tmp-ok\n');
    expect(existsSync(value('TMPDIR')!)).toBe(false);
    expect(readFileSync(path.join(cwd, 'vars.out'), 'utf8')).toBe('from job\n');
  });

  it('--output and --error name files in the job folder (%x %j %A %a %u %N %%); process.log keeps everything', async () => {
    const script = await writeScript(env.qm, 'outs.sh', '#!/bin/bash\n#SBATCH -o logs/%x-%j.out\n#SBATCH --error=%x_%u_%N_100%%.err\necho to-stdout\necho to-stderr >&2\nexit 4\n');
    const result = await submit('--wait', script);
    expect(result.code).toBe(4);
    const done = await waitDone(env.qm, 'outs');
    const log = readLog(done);
    const status = JSON.parse((await env.qmRun('status', '--json')).stdout) as { done: Array<{ name: string; id: string }> };
    const id = status.done.find((d) => d.name === 'outs')!.id;
    expect(readFileSync(path.join(done, 'logs', `outs-${id}.out`), 'utf8')).toBe('to-stdout\n');
    expect(readFileSync(path.join(done, `outs_${os.userInfo().username}_${os.hostname().split('.')[0]}_100%.err`), 'utf8')).toBe('to-stderr\n');
    expect(log).toContain('to-stdout\n');
    expect(log).toContain('to-stderr\n');
    expect(log).toMatch(/with code 4\n$/);
  });

  it('srun -n N runs N copies with SLURM_PROCID and returns the worst code', async () => {
    const script = await writeScript(env.qm, 'mpi.sh', '#!/bin/bash\nsrun -n 3 bash -c \'echo "rank $SLURM_PROCID local $SLURM_LOCALID"; exit $SLURM_PROCID\'\necho "srun code $?"\nsrun --mpi=pmix hostname >/dev/null && echo one-copy\n');
    expect((await submit('--wait', script)).code).toBe(0);
    const log = readLog(await waitDone(env.qm, 'mpi'));
    for (const rank of [0, 1, 2]) expect(log).toContain(`rank ${rank} local ${rank}\n`);
    expect(log).toContain('srun code 2\n');
    expect(log).toContain('one-copy\n');
  });
});
