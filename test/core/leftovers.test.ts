/**
 * What a run left running is found by its QM_RUN_ID in /proc and killed,
 * also through the index a launcher keeps (src/worker/launcher.ts), which
 * reads each process once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BatchedSweep, RunIndex, killLeftovers } from '../../src/core/leftovers.js';
import { waitFor } from '../helpers/wait.js';

const started: ChildProcess[] = [];

/** A `sleep` in a session of its own (as a daemon) carrying QM_RUN_ID = run. */
function daemon(run: string): ChildProcess {
  const child = spawn('setsid', ['sleep', '300'], { env: { ...process.env, QM_RUN_ID: run }, stdio: 'ignore' });
  started.push(child);
  return child;
}

/** It runs `sleep` (exec done: its environment is the one it was given). */
const sleeping = (child: ChildProcess) => {
  try {
    return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').startsWith('sleep\0');
  } catch {
    return false;
  }
};

const gone = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

afterEach(() => {
  for (const child of started.splice(0)) if (!gone(child)) child.kill('SIGKILL');
});

describe('leftovers of a run', () => {
  it('kills the processes of that run, and only those', async () => {
    const mine = daemon('w@1');
    const other = daemon('w@2');
    await waitFor(() => sleeping(mine) && sleeping(other), { what: 'both daemons' });
    const killed = killLeftovers(['w@1']);
    expect(killed.map((k) => k.pid)).toEqual([mine.pid]);
    expect(killed[0]!.command).toBe('sleep 300');
    await waitFor(() => gone(mine), { what: 'the run\'s daemon to end' });
    expect(gone(other)).toBe(false);
  });

  it('the index finds a leftover born after its last sweep, and only that run\'s', async () => {
    const index = new RunIndex();
    expect(index.killLeftovers(['w@3'])).toEqual([]);
    const leftover = daemon('w@3');
    const other = daemon('w@4');
    await waitFor(() => sleeping(leftover) && sleeping(other), { what: 'the daemons' });
    expect(index.killLeftovers(['w@3']).map((k) => k.pid)).toEqual([leftover.pid]);
    await waitFor(() => gone(leftover), { what: 'the daemon to end' });
    expect(gone(other)).toBe(false);
    // read once, found again by the next sweep for its run
    expect(index.killLeftovers(['w@4']).map((k) => k.pid)).toEqual([other.pid]);
  });

  it('runs that end together share one sweep, and each gets its own leftovers', async () => {
    const sweep = new BatchedSweep(new RunIndex(), 200);
    const first = daemon('w@5');
    const second = daemon('w@6');
    const bystander = daemon('w@7');
    await waitFor(() => [first, second, bystander].every(sleeping), { what: 'the daemons' });
    const [a, b] = await Promise.all([sweep.after('w@5', -1), sweep.after('w@6', -1)]);
    expect(a.map((k) => k.pid)).toEqual([first.pid]);
    expect(b.map((k) => k.pid)).toEqual([second.pid]);
    await waitFor(() => gone(first) && gone(second), { what: 'both runs\' daemons to end' });
    expect(gone(bystander)).toBe(false);
  });

  it('leaves alone the members of the run\'s own process group (being killed already)', async () => {
    // not a daemon: in the group of a shell of its own, as a job's processes are
    const job = spawn('sh', ['-c', 'exec sleep 300'], { env: { ...process.env, QM_RUN_ID: 'w@8' }, stdio: 'ignore', detached: true });
    started.push(job);
    await waitFor(() => sleeping(job), { what: 'the job' });
    expect(await new BatchedSweep().after('w@8', job.pid!)).toEqual([]);
    expect(gone(job)).toBe(false);
  });
});
