/**
 * Issue 15 points 6-7 end to end: `qm submit FILE ARG...`, `--wrap`, the
 * usual `for i in ...; do sbatch -J run job.sh $i; done` (run, run-2,
 * run-3), Slurm's dependency kinds on names and QM ids, and the QM: lines of
 * what is not honoured, on stderr and at the top of process.log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, promises as fs, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { doneEntries, runQm, waitDone } from '../helpers/qm.js';
import { readLog, startRunningQm, writeScript, type RunningQm } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

describe('qm submit as sbatch', () => {
  let env: RunningQm;
  let cwd: string;
  const submit = (...args: string[]) => runQm(['-c', env.qm.cfg, 'submit', ...args], {}, cwd);
  const stamp = (file: string) => Number(readFileSync(path.join(cwd, file), 'utf8'));
  /** a script line that waits until release(name) */
  const untilReleased = (name: string) => `while [ ! -e "$SLURM_SUBMIT_DIR/${name}.release" ]; do sleep 0.05; done\n`;
  const release = async (name: string) => {
    await fs.writeFile(path.join(cwd, `${name}.release`), '');
    return Date.now() / 1000;
  };
  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 4, kill_grace: 1 } });
    cwd = path.join(env.qm.base, 'src');
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
  });

  it('passes the arguments after the script; a taken name gets NAME-2, NAME-3; --wrap makes the script', async () => {
    const job = await writeScript(env.qm, 'job.sh', `#!/bin/sh\necho "arg=$1 second=$2 name=$SLURM_JOB_NAME"\n${untilReleased('run')}`);
    const names: string[] = [];
    for (const i of ['1', '2', '3']) names.push((await submit('-J', 'run', job, i, '--not-an-option')).stdout.trim());
    expect(names).toEqual(['run', 'run-2', 'run-3']);
    await release('run');
    // all three ended first: before that, `run-2` could be read as a second `run` in one second
    await waitFor(() => names.every((name) => doneEntries(env.qm).some((e) => e.slice(20) === name)), { what: 'run, run-2 and run-3 done' });
    for (const [i, name] of names.entries()) {
      expect(readLog(await waitDone(env.qm, name))).toContain(`arg=${i + 1} second=--not-an-option name=${name}\n`);
    }
    const wrapped = await submit('--wrap', 'echo wrapped $((6 * 7))', '--wait');
    expect(wrapped.stdout).toMatch(/^wrap\nwrap ended: code 0/);
    expect(readLog(await waitDone(env.qm, 'wrap'))).toContain('wrapped 42\n');
  });

  it('afterany, afternotok, after (started), ? (any) and QM ids', async () => {
    const fail = await writeScript(env.qm, 'fails.sh', '#!/bin/sh\nsleep 1\ndate +%s.%N > "$SLURM_SUBMIT_DIR/fails.at"\nexit 3\n');
    const slow = await writeScript(env.qm, 'slow.sh', `#!/bin/sh\ndate +%s.%N > "$SLURM_SUBMIT_DIR/slow.start"\n${untilReleased('slow')}`);
    const report = (name: string) => writeScript(env.qm, `${name}.sh`, `#!/bin/sh\ndate +%s.%N > "$SLURM_SUBMIT_DIR/${name}.at"\n`);
    // as `jid=$(sbatch --parsable fails.sh)`: the name alone, which -d takes
    expect((await submit('--parsable', fail)).stdout).toBe('fails\n');
    expect((await submit(slow)).stdout).toBe('slow\n');
    const slowId = (JSON.parse((await env.qmRun('status', '--json')).stdout) as { queued: Array<{ name: string; id: string }>; running: Array<{ name: string; id: string }> })
      .running.concat().find((r) => r.name === 'slow')?.id ?? '';
    const any = await submit('--dependency', 'afterany:fails', await report('anyend'));
    const notok = await submit('-d', 'afternotok:fails', await report('notok'));
    const okNever = await submit('-d', 'afterok:fails', await report('never'));
    const started = await submit('-d', `after:${slowId || 'slow'}`, await report('started'));
    const either = await submit('-d', 'afterok:fails?afterok:slow', await report('either'));
    for (const r of [any, notok, okNever, started, either]) expect(r.code).toBe(0);
    // slow still runs: `after` has started, `?` waits for slow to succeed
    for (const name of ['anyend', 'notok', 'started']) await waitDone(env.qm, name);
    const fallen = readLog(await waitDone(env.qm, 'never'));
    expect(fallen).toMatch(/Job not run: dependency failed: fails/);
    expect(stamp('anyend.at')).toBeGreaterThan(stamp('fails.at'));
    expect(stamp('notok.at')).toBeGreaterThan(stamp('fails.at'));
    expect(stamp('started.at')).toBeGreaterThanOrEqual(stamp('slow.start'));
    expect(readdirSync(env.qm.running)).toContain('slow');
    expect(existsSync(path.join(cwd, 'either.at'))).toBe(false);
    const released = await release('slow');
    await waitDone(env.qm, 'either');
    expect(stamp('either.at')).toBeGreaterThan(released);
  });

  it('singleton: jobs of one name run one after the other', async () => {
    const one = await writeScript(env.qm, 'single.sh', `#!/bin/sh\n#SBATCH -J solo\n#SBATCH --dependency=singleton\ndate +%s.%N >> "$SLURM_SUBMIT_DIR/solo.spans"\n${untilReleased('solo')}sleep 0.3\ndate +%s.%N >> "$SLURM_SUBMIT_DIR/solo.spans"\n`);
    const names = [];
    for (let i = 0; i < 3; i++) names.push((await submit(one)).stdout.trim());
    expect(names).toEqual(['solo', 'solo-2', 'solo-3']);
    await release('solo');
    for (const name of names) await waitDone(env.qm, name);
    const times = readFileSync(path.join(cwd, 'solo.spans'), 'utf8').trim().split('\n').map(Number);
    // start, end, start, end...: never two at once
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1]!);
  });

  it('what is not honoured is one QM: line each, on stderr and at the top of process.log', async () => {
    const script = await writeScript(env.qm, 'wide.sh', '#!/bin/sh\n#SBATCH --nodes=2\n#SBATCH -p gpu --account=lab\n#SBATCH --mail-user=YOUR_EMAIL\necho ran\n');
    const result = await submit('--wait', script);
    expect(result.code).toBe(0);
    const notices = [
      'QM: #SBATCH --nodes=2: runs on one host (QM does not spread a job over hosts) (wide.sh line 2)',
      'QM: #SBATCH --partition=gpu ignored: QM has no partitions: any worker with room runs the job (wide.sh line 3)',
      'QM: #SBATCH --account=lab ignored: QM keeps no accounts (wide.sh line 3)',
      'QM: #SBATCH --mail-user=YOUR_EMAIL is not a mail address; no mail is sent (MailActive is off) (wide.sh line 4)',
    ];
    expect(result.stderr).toBe(notices.map((n) => `${n}\n`).join(''));
    const log = readLog(await waitDone(env.qm, 'wide'));
    expect(log.split('\n').slice(0, 5)).toEqual([...notices, expect.stringMatching(/^Job started by QM at: /)]);
  });
});
