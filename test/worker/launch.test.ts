/**
 * The launcher, the small process a worker starts its jobs from: each run
 * gets its own answer, kills and leftovers are handled there, it writes the
 * header and the footer, and when it dies its jobs die with it and end with a
 * note (the worker writes that footer). The launcher process runs
 * from its build (dist/), as a worker's does.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Launcher, type RunRequest } from '../../src/worker/launch.js';
import { logger } from '../../src/core/log.js';
import { waitFor } from '../helpers/wait.js';

const base = mkdtempSync(path.join(os.tmpdir(), 'qm-launch-'));
const built = fileURLToPath(new URL('../../dist/worker/launcher.js', import.meta.url));
const launcher = new Launcher(logger('test'), built);
afterAll(() => {
  launcher.close();
  rmSync(base, { recursive: true, force: true });
});

let runs = 0;
function request(script: string): Omit<RunRequest, 'type'> {
  const cwd = path.join(base, `job${++runs}`);
  mkdirSync(cwd);
  return { run: `test@1/${runs}`, script, cwd, vars: { QM_RUN_ID: `test@1/${runs}` }, logPath: path.join(cwd, 'process.log'), header: 'HEADER\n', cpus: [], killGrace: 1 };
}

/** Running (a zombie waiting for its reaper counts as ended). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
};

describe('the launcher', () => {
  it('runs jobs side by side, each with its own code; the header comes before the output, the footer after', async () => {
    const a = request('echo a; exit 3');
    const b = request('echo time: 42; printf b');
    const [ra, rb] = await Promise.all([launcher.run(a).done, launcher.run(b).done]);
    expect(ra).toMatchObject({ code: 3, leftovers: [], logged: {} });
    expect(rb).toMatchObject({ code: 0, leftovers: [], logged: { reportedTime: 42 } });
    expect(readFileSync(a.logPath, 'utf8')).toBe(`HEADER\na\nJob finished at: ${new Date(ra.endedAt!).toISOString()} with code 3\n`);
    // output that did not end its line: the footer starts a line of its own
    expect(readFileSync(b.logPath, 'utf8')).toBe(`HEADER\ntime: 42\nb\nJob finished at: ${new Date(rb.endedAt!).toISOString()} with code 0\n`);
  });

  it('says when the script runs, when its processes ended, then that the run is over', async () => {
    const job = launcher.run(request('true'));
    const order: string[] = [];
    await Promise.all(
      (['started', 'exited', 'done'] as const).map((step) => job[step].then(() => order.push(step))),
    );
    expect(order).toEqual(['started', 'exited', 'done']);
  });

  it('kills a job on request, and what it left running in a session of its own', async () => {
    // the daemon writes its pid once in its own session, then becomes `sleep 301`
    const req = request(`setsid sh -c 'echo $$ > daemon.pid; exec sleep 301' & sleep 300`);
    const job = launcher.run(req);
    const pidFile = path.join(req.cwd, 'daemon.pid');
    const daemon = await waitFor(() => Number(readFileSync(pidFile, 'utf8').trim()) || undefined, { what: 'the daemon' });
    await waitFor(() => readFileSync(`/proc/${daemon}/cmdline`, 'utf8') === 'sleep\x00301\x00', { what: 'the daemon to be sleep 301' });
    job.kill({ kind: 'killed', by: 'qm kill (tester)' });
    const result = await job.done;
    expect(result.code).not.toBe(0);
    expect(result.leftovers).toEqual(['sleep 301']);
    expect(result.stop).toEqual({ kind: 'killed', by: 'qm kill (tester)' });
    expect(readFileSync(req.logPath, 'utf8')).toMatch(/^QM killed 1 process\(es\) the job left running: sleep 301\nJob finished at: \S+ with code \d+\nReason: killed by qm kill \(tester\)\n$/m);
    await waitFor(() => !alive(daemon), { what: 'the daemon to be gone' });
  });

  it('a kill that comes once the job has ended by itself is not why it ended', async () => {
    const req = request('exit 0');
    const job = launcher.run(req);
    await job.exited;
    job.kill({ kind: 'killed', by: 'qm kill (late)' });
    const result = await job.done;
    expect(result).toMatchObject({ code: 0, logged: {} });
    expect(result.stop).toBeUndefined();
    expect(readFileSync(req.logPath, 'utf8')).not.toMatch(/Reason:/);
  });

  it("ends its jobs when it dies; they end with a note; the next job gets a new launcher", async () => {
    const req = request('sleep 299 & echo $! > child.pid; echo $$ > shell.pid; sleep 300');
    const job = launcher.run(req);
    const shell = await waitFor(() => Number(readFileSync(path.join(req.cwd, 'shell.pid'), 'utf8').trim()) || undefined, { what: 'the job' });
    const child = Number(readFileSync(path.join(req.cwd, 'child.pid'), 'utf8').trim());
    const first = launcher.pid!;
    expect(alive(child)).toBe(true);
    process.kill(first, 'SIGKILL');
    const result = await job.done;
    expect(result).toMatchObject({ code: 137, note: "QM's job launcher died: the job was killed" });
    expect(result.logged).toBeUndefined();
    await waitFor(() => !alive(shell) && !alive(child), { what: "the job's processes to be killed by the launcher's guard" });
    expect((await launcher.run(request('exit 0')).done).code).toBe(0);
    expect(launcher.pid).not.toBe(first);
  });
});
