/**
 * Issue 16 point 1–2, through the real `qm` against a running `qm start`:
 * pause/resume, hold/release (qm hold, qm submit -H, #SBATCH -H), --begin,
 * requeue, show, wait, logs --lines, --version, completion, and qm status's
 * USER and REASON columns and filters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { cfgDescriptor, doneEntries, waitDone } from '../helpers/qm.js';
import { startRunningQm, writeScript, writeSource, type RunningQm } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import type { StatusView } from '../../src/commands/status-view.js';

describe('qm pause, hold, release, requeue, show, wait', () => {
  let env: RunningQm;
  const me = os.userInfo().username;
  const status = async (...args: string[]) => JSON.parse((await env.qmRun('status', '--json', ...args)).stdout) as StatusView;
  const queuedRow = async (name: string) => (await status()).queued.find((q) => q.name === name);
  const job = (name: string, script: string, more: Record<string, string | number> = {}) =>
    writeSource(env.qm, name, { 'proc_config.cfg': cfgDescriptor({ script, ...more }) });

  beforeAll(async () => {
    env = await startRunningQm({ QMServer: { MaxNbProcessors: 2 } });
  });
  afterAll(async () => {
    expect(await env.qmRun('resume')).toMatchObject({ code: 0 });
    expect(await env.stop()).toBe(0);
  });

  it('qm pause: a submitted job waits with REASON Paused and nothing starts; qm resume: it runs', async () => {
    expect(await env.qmRun('pause')).toMatchObject({ code: 0, stdout: 'paused: no job starts until qm resume; running jobs go on\n' });
    expect((await env.qmRun('submit', await job('p1', 'echo p1'))).code).toBe(0);
    expect(await queuedRow('p1')).toMatchObject({ state: 'queued', reason: 'Paused', user: me });
    const text = (await env.qmRun('status')).stdout;
    expect(text).toMatch(/^PAUSED: no job starts until qm resume\n/);
    expect(text).toMatch(new RegExp(`\\n  1  p1 +${me} +0 +1 +queued +Paused +-\\n`));
    // the workers look at the queue every second at least: three seconds without a start
    await expect(waitFor(() => existsSync(path.join(env.qm.running, 'p1')) || doneEntries(env.qm, 'p1').length > 0, { timeout: 3_000 })).rejects.toThrow(/timed out/);
    expect(await env.qmRun('resume')).toMatchObject({ code: 0, stdout: 'resumed\n' });
    await waitDone(env.qm, 'p1');
  });

  it('qm hold keeps a queued job from starting while others run; qm release lets it run', async () => {
    await env.qmRun('pause');
    await env.qmRun('submit', await job('h1', 'echo h1'));
    await env.qmRun('submit', await job('h2', 'echo h2'));
    expect(await env.qmRun('hold', 'h1')).toMatchObject({ code: 0, stdout: 'h1: held until qm release\n' });
    expect(await queuedRow('h1')).toMatchObject({ state: 'held', reason: 'Held', position: null });
    expect((await status('-t', 'held')).queued.map((q) => q.name)).toEqual(['h1']);
    await env.qmRun('resume');
    await waitDone(env.qm, 'h2');
    expect(doneEntries(env.qm, 'h1')).toEqual([]);
    expect(await queuedRow('h1')).toMatchObject({ state: 'held', reason: 'Held' });
    expect(await env.qmRun('release', 'h1')).toMatchObject({ code: 0, stdout: 'h1: released\n' });
    await waitDone(env.qm, 'h1');
    const again = await env.qmRun('release', 'h1');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^qm: h1 is done: only a queued job can be released\n/);
  });

  it('qm submit -H and #SBATCH --hold queue a job held; a held job stays held when the job it waits for ends', async () => {
    expect((await env.qmRun('submit', '-H', await job('sh1', 'echo sh1'))).code).toBe(0);
    const script = await writeScript(env.qm, 'sh2.sh', '#!/bin/bash\n#SBATCH --hold\n#SBATCH -J sh2\necho sh2\n');
    expect((await env.qmRun('submit', script)).code).toBe(0);
    await env.qmRun('pause');
    await env.qmRun('submit', await job('first', 'echo first'));
    expect((await env.qmRun('submit', '--after', 'first', await job('second', 'echo second'))).code).toBe(0);
    expect(await queuedRow('second')).toMatchObject({ state: 'after', reason: 'Dependency: first' });
    expect((await env.qmRun('hold', 'second')).code).toBe(0);
    await env.qmRun('resume');
    // the end of `first` wakes the jobs waiting for it: a held one goes back to waiting, unrun
    await waitDone(env.qm, 'first');
    await env.proc.waitForOutput(/second: held: back to waiting for qm release\n/);
    expect(doneEntries(env.qm, 'second')).toEqual([]);
    expect((await env.qmRun('show', 'second')).stdout).toMatch(/\nState=held\nReason=Held\n/);
    for (const name of ['sh1', 'sh2', 'second']) expect(await queuedRow(name)).toMatchObject({ state: 'held', reason: 'Held' });
    expect((await env.qmRun('release', 'sh1', 'sh2', 'second')).code).toBe(0);
    for (const name of ['sh1', 'sh2', 'second']) await waitDone(env.qm, name);
  });

  it('--begin: the job waits with REASON BeginTime until its time, then runs', async () => {
    const script = await writeScript(env.qm, 'late.sh', '#!/bin/bash\n#SBATCH --begin=now+3\ndate +%s%3N\n');
    const submitted = Date.now();
    expect((await env.qmRun('submit', script)).code).toBe(0);
    expect(await queuedRow('late')).toMatchObject({ state: 'begin', reason: 'BeginTime', beginAt: expect.any(String) });
    await env.qmRun('submit', '--begin', 'now+1hour', await job('much_later', 'true'));
    expect(await queuedRow('much_later')).toMatchObject({ state: 'begin', reason: 'BeginTime' });
    const folder = await waitDone(env.qm, 'late');
    const ranAt = Number(/^(\d{13})$/m.exec(readFileSync(path.join(folder, 'process.log'), 'utf8'))![1]);
    expect(ranAt - submitted).toBeGreaterThanOrEqual(2_900);
    const bad = await env.qmRun('submit', '--begin', 'yesterday-ish', await job('bad_begin', 'true'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^qm: --begin "yesterday-ish": expected now\+N/);
    expect(await env.qmRun('cancel', 'much_later')).toMatchObject({ code: 0 });
  });

  it('qm requeue runs a finished job again from a copy without QM\'s files; the old folder stays; qm wait exits with the worst code', async () => {
    await env.qmRun('submit', await job('flaky', 'echo run >> runs.txt; cat runs.txt | wc -l; exit 3'));
    const first = await waitDone(env.qm, 'flaky');
    expect(await env.qmRun('wait', 'flaky')).toMatchObject({ code: 3, stdout: expect.stringMatching(/^flaky ended: code 3 → QM_dJobs\/\S+-flaky\n$/) });
    const requeued = await env.qmRun('requeue', 'flaky');
    expect(requeued).toMatchObject({ code: 0, stdout: `flaky: queued again from ${path.relative(env.qm.root, first)} (the old folder stays)\n` });
    await waitFor(() => doneEntries(env.qm, 'flaky').length === 2, { what: 'a second run of flaky' });
    const [, second] = doneEntries(env.qm, 'flaky').sort();
    const log = readFileSync(path.join(env.qm.done, second!, 'process.log'), 'utf8');
    // a fresh process.log (one start line), and the job's own files copied
    expect(log.match(/Job started by QM at/g)).toHaveLength(1);
    expect(log).toMatch(/^\s*2$/m);
    expect(readdirSync(first)).toContain('process.log');
    await env.qmRun('submit', await job('fine', 'true'));
    await waitDone(env.qm, 'fine');
    expect((await env.qmRun('wait', 'fine', 'flaky')).code).toBe(3);
    expect((await env.qmRun('wait', 'fine')).code).toBe(0);

    const running = await env.qmRun('submit', await job('busy', 'sleep 30'));
    expect(running.code).toBe(0);
    await waitFor(async () => (await status()).running.some((r) => r.name === 'busy'), { what: 'busy running' });
    const refused = await env.qmRun('requeue', 'busy', 'nothing_like_it');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('qm: busy is running: only a finished job can be requeued\nqm: nothing_like_it: no such job (no finished run of that name)\n');
    await env.qmRun('cancel', 'busy');
  });

  it('qm show NAME [--json] tells everything about a job', async () => {
    const text = await env.qmRun('show', 'flaky');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Name=flaky\nId=\S+\nState=done\nResult=code 3\nExitCode=3\n/);
    expect(text.stdout).toMatch(new RegExp(`\\nUser=${me}\\n`));
    // the requeued run may end in the same second as the first: its folder then ends in -2
    expect(text.stdout).toMatch(/\nFolder=QM_dJobs\/\S+-flaky(-\d+)?\n/);
    const json = JSON.parse((await env.qmRun('show', 'flaky', '--json')).stdout) as { job: Record<string, unknown> };
    expect(json.job).toMatchObject({ name: 'flaky', state: 'done', exitCode: 3, user: me, outcome: { kind: 'failed', code: 3 } });
    expect(await env.qmRun('show', 'nope')).toMatchObject({ code: 1, stderr: 'qm: nope: no such job (not queued, running or finished)\n' });
  });

  it('qm status filters by user, state and name; qm logs --lines N prints the last N lines', async () => {
    expect((await status('-n', 'flaky')).done.every((d) => d.name === 'flaky')).toBe(true);
    expect((await status('-n', 'flaky')).doneTotal).toBe(2);
    expect((await status('--me')).doneTotal).toBeGreaterThan(5);
    expect((await status('-u', 'nobody_here')).doneTotal).toBe(0);
    expect((await status('-t', 'running')).done).toEqual([]);
    expect(await env.qmRun('status', '-t', 'sleeping')).toMatchObject({ code: 2, stderr: expect.stringMatching(/^qm: -t sleeping: expected one of /) });
    const tail = await env.qmRun('logs', 'flaky', '--lines', '1');
    expect(tail.stdout).toMatch(/^Job finished at: \S+ with code 3\n$/);
    expect((await env.qmRun('logs', 'flaky', '-n', '3')).stdout.split('\n')).toHaveLength(4);
  });

  it('qm --version and qm completion bash|zsh', async () => {
    const pkg = JSON.parse(readFileSync(path.resolve('package.json'), 'utf8')) as { version: string };
    expect(await env.qmRun('--version')).toMatchObject({ code: 0, stdout: `qm ${pkg.version}\n` });
    const bash = await env.qmRun('completion', 'bash');
    expect(bash.code).toBe(0);
    expect(bash.stdout).toMatch(/complete -F _qm qm\n$/);
    expect(bash.stdout).toMatch(/ hold\) opts="" ;;/);
    // bash accepts it, and completes a command name from it
    const words = execFileSync('bash', ['-c', `${bash.stdout}\nCOMP_WORDS=(qm req); COMP_CWORD=1; _qm; echo "\${COMPREPLY[@]}"`]).toString();
    expect(words.trim()).toBe('requeue');
    const zsh = await env.qmRun('completion', 'zsh');
    expect(zsh.stdout).toMatch(/^autoload -U \+X bashcompinit && bashcompinit\n/);
    expect((await env.qmRun('completion', 'fish')).code).toBe(2);
  });
});
