/**
 * What the fault tests share: looking at real processes in /proc, the
 * processes jobs leave, reading a folder's reason, and reporting a measured
 * figure (printed, and appended to $QM_FIGURES when set).
 */
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { QM_BIN, QmProcess, type QmDir } from '../helpers/qm.js';
import { waitFor } from '../helpers/wait.js';

/** Does `pid` exist and is it not a zombie? */
export function procAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Pids of live processes started by jobs of this QM folder (QM_JOB_DIR under its root). */
export function jobProcesses(qm: QmDir): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      const dir = /(?:^|\0)QM_JOB_DIR=([^\0]*)/.exec(env)?.[1];
      if (dir?.startsWith(qm.root + path.sep) && procAlive(Number(entry))) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Pids written one per line by a job (`echo $$ >> pids`). */
export function pidsIn(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A job script that starts a child in its group and a daemon outside it, writes their pids, and waits. */
export const SPAWNING_SCRIPT = [
  'echo $$ > pids',
  'sleep 300 & echo $! >> pids',
  'setsid sleep 300 & echo $! >> pids',
  'wait',
].join('\n');

export function reasonOf(qm: QmDir, entry: string): string {
  return readFileSync(path.join(qm.lost, entry, 'QM_REASON.txt'), 'utf8');
}

/** The lost+found entries of job `name`. */
export function lostOf(qm: QmDir, name: string): string[] {
  try {
    return readdirSync(qm.lost).filter((e) => {
      const rest = e.slice(20);
      return rest === name || (rest.startsWith(`${name}-`) && /^\d+$/.test(rest.slice(name.length + 1)));
    });
  } catch {
    return [];
  }
}

export function figure(label: string, value: string | number): void {
  const line = `[figure] ${label}: ${value}`;
  console.log(line);
  if (process.env.QM_FIGURES) appendFileSync(process.env.QM_FIGURES, line + '\n');
}

/** With QM_KEEP_LOGS=DIR, the output of each process is kept there (to read what happened). */
export function keepLogs(label: string, outputs: string[]): void {
  const dir = process.env.QM_KEEP_LOGS;
  if (!dir) return;
  outputs.forEach((text, i) => writeFileSync(path.join(dir, `${label.replace(/\W+/g, '_')}-${i}.log`), text));
}

/**
 * `qm ARGS` in a pid namespace of its own: to QM's liveness check it is a
 * worker on another machine (its pids mean nothing here). Signal it with
 * `signalInside`; `exited` gives its exit code.
 */
export function startElsewhere(args: string[], env: NodeJS.ProcessEnv = {}): QmProcess {
  const child = spawn('unshare', ['--pid', '--fork', '--kill-child', process.execPath, QM_BIN, ...args], {
    env: { ...process.env, QM_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new QmProcess(child);
}

/** Sends `signal` to the qm process inside (not to unshare). */
export async function signalInside(proc: QmProcess, signal: NodeJS.Signals): Promise<void> {
  const outer = proc.child.pid!;
  const inner = await waitFor(() => Number(readFileSync(`/proc/${outer}/task/${outer}/children`, 'utf8').trim().split(' ')[0]) || undefined, {
    what: 'the qm process inside its pid namespace',
  });
  process.kill(inner, signal);
}
