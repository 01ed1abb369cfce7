/**
 * Issue 5 point 4: time limits end to end. At the limit the job's group gets
 * SIGTERM, then SIGKILL after kill_grace; process.log ends with the reason;
 * the job is recorded as timed out with its own exit code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cfgDescriptor, dropJob, waitDone } from '../helpers/qm.js';
import { readLog, startRunningQm, writeSource, type RunningQm } from '../helpers/cli.js';

/** A process that exists and is not a zombie (this machine's init may not reap them). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

interface DoneJson {
  name: string;
  result: string;
  exitCode: number;
  outcome: { kind: string; limit?: number; code?: number };
}

describe('time limits', () => {
  let env: RunningQm;
  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 4, kill_grace: 2 } });
  });
  afterAll(async () => {
    expect(await env.stop()).toBe(0);
  });

  const record = async (name: string): Promise<DoneJson> => {
    const status = JSON.parse((await env.qmRun('status', '--json', '--all')).stdout) as { done: DoneJson[] };
    return status.done.find((d) => d.name === name)!;
  };

  it('time_limit stops the job with SIGTERM and records it as timed out', async () => {
    await dropJob(env.qm, 'sleeper', { 'proc_config.cfg': cfgDescriptor({ time_limit: 1, script: 'echo going; sleep 60' }) });
    const done = await waitDone(env.qm, 'sleeper');
    const lines = readLog(done).trim().split('\n');
    expect(lines).toContain('going');
    expect(lines.at(-2)).toMatch(/^Job finished at: \S+ with code 143$/);
    expect(lines.at(-1)).toBe('Reason: time limit of 1 s reached');
    expect(await record('sleeper')).toMatchObject({ exitCode: 143, outcome: { kind: 'timedOut', limit: 1, code: 143 }, result: 'timed out after 1 s (code 143)' });
  });

  it('a job that traps SIGTERM gets its grace period to clean up, and its own exit code is recorded', async () => {
    await dropJob(env.qm, 'tidy', {
      'job.sh': "#!/bin/bash\n#QM time_limit=1\ntrap 'echo saving; sleep 0.5; echo saved > saved.txt; exit 7' TERM\nsleep 60 & wait\n",
    });
    const done = await waitDone(env.qm, 'tidy');
    expect(readFileSync(path.join(done, 'saved.txt'), 'utf8')).toBe('saved\n');
    expect(readLog(done)).toMatch(/saving\nJob finished at: \S+ with code 7\nReason: time limit of 1 s reached\n$/);
    expect(await record('tidy')).toMatchObject({ exitCode: 7, outcome: { kind: 'timedOut' } });
  });

  it('a job that ignores SIGTERM is killed with SIGKILL after kill_grace', async () => {
    await dropJob(env.qm, 'stubborn', {
      'proc_config.cfg': cfgDescriptor({ time_limit: '00:01', script: "trap '' TERM; echo $$ > pid; sleep 60; echo not-reached" }),
    });
    const done = await waitDone(env.qm, 'stubborn');
    const log = readLog(done);
    expect(log).not.toContain('not-reached');
    expect(log).toMatch(/with code 137\nReason: time limit of 1 s reached\n$/);
    // the whole group is gone, not just the shell
    expect(running(Number(readFileSync(path.join(done, 'pid'), 'utf8')))).toBe(false);
  });

  it('qm submit --time sets the limit like sbatch (MM:SS here); a limit beyond 24.8 days does not fire at once', async () => {
    const short = await writeSource(env.qm, 'short', { 'proc_config.cfg': cfgDescriptor({ script: 'sleep 60' }) });
    const submitted = await env.qmRun('submit', short, '--time', '0:01', '--wait');
    expect(submitted.code).toBe(143);
    expect(submitted.stdout).toMatch(/short ended: timed out after 1 s \(code 143\)/);

    const long = await writeSource(env.qm, 'long', { 'proc_config.cfg': cfgDescriptor({ script: 'sleep 1; echo completed' }) });
    const fine = await env.qmRun('submit', long, '--time', '30-00:00:00', '--wait');
    expect(fine.code).toBe(0);
    expect(readLog(await waitDone(env.qm, 'long'))).toContain('completed');
  });
});
