/**
 * Drives the real `qm` binary (dist/cli.js) on a temp QM folder: write a
 * QMserv.cfg, drop job folders the way users do, start roles as child
 * processes, read their logs, send them signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect } from 'vitest';
import { waitFor } from './wait.js';
import type { TestRedis } from './redis.js';

export const QM_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cli.js');

export interface QmDir {
  /** folder holding QMserv.cfg */
  base: string;
  cfg: string;
  /** QM_FOLDER */
  root: string;
  queued: string;
  running: string;
  done: string;
  lost: string;
  cleanup(): void;
}

export type CfgSections = Record<string, Record<string, string | number | boolean>>;

export function makeQmDir(sections: CfgSections = {}): QmDir {
  const base = mkdtempSync(path.join(os.tmpdir(), 'qm-test-'));
  const root = path.join(base, 'QM');
  const merged: CfgSections = {
    QMServer: { QM_FOLDER: 'QM', MaxNbProcessors: 4, settle_time: 0.3, ...sections.QMServer },
    ...Object.fromEntries(Object.entries(sections).filter(([k]) => k !== 'QMServer')),
  };
  const text = Object.entries(merged)
    .map(([section, kv]) => `[${section}]\n` + Object.entries(kv).map(([k, v]) => `${k} = ${v}`).join('\n'))
    .join('\n\n');
  const cfg = path.join(base, 'QMserv.cfg');
  writeFileSync(cfg, text + '\n');
  return {
    base,
    cfg,
    root,
    queued: path.join(root, 'QM_qJobs'),
    running: path.join(root, 'QM_Jobs'),
    done: path.join(root, 'QM_dJobs'),
    lost: path.join(root, 'QM_lost+found'),
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** A cfg descriptor text from key/values, in the [QMOptions] section. */
export function cfgDescriptor(options: Record<string, string | number>, extra = ''): string {
  return `${extra}[QMOptions]\n` + Object.entries(options).map(([k, v]) => `${k} : ${v}`).join('\n') + '\n';
}

/**
 * Builds the folder beside the QM folder and renames it into QM_qJobs,
 * as `mv` would: it appears complete.
 */
export async function dropJob(qm: QmDir, name: string, files: Record<string, string | Buffer>): Promise<void> {
  const staging = await fs.mkdtemp(path.join(qm.base, '.staging-'));
  const dir = path.join(staging, name);
  await fs.mkdir(dir);
  for (const [file, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), content, { mode: file.endsWith('.sh') || file.endsWith('.py') ? 0o755 : 0o644 });
  }
  await fs.rename(dir, path.join(qm.queued, name));
  await fs.rmdir(staging);
}

/** Entries of QM_dJobs whose name ends with `-NAME` (there may be several). */
export function doneEntries(qm: QmDir, name?: string): string[] {
  let all: string[];
  try {
    all = readdirSync(qm.done);
  } catch {
    return [];
  }
  if (!name) return all;
  // `YYYY-MM-DDTHH:MM:SS-` is 20 characters; a second job in the same second adds `-N`
  // the exact name first: `run-2` may be the job run-2 as well as a second `run` in one second
  const exact = all.filter((e) => e.slice(20) === name);
  const suffixed = all.filter((e) => {
    const rest = e.slice(20);
    return rest.startsWith(`${name}-`) && /^\d+$/.test(rest.slice(name.length + 1));
  });
  return [...exact, ...suffixed];
}

export function lostEntries(qm: QmDir): string[] {
  try {
    return readdirSync(qm.lost);
  } catch {
    return [];
  }
}

export async function waitDone(qm: QmDir, name: string, timeout = 20_000): Promise<string> {
  const entry = await waitFor(() => doneEntries(qm, name)[0], { timeout, what: `${name} in QM_dJobs` });
  return path.join(qm.done, entry);
}

export class QmProcess {
  output = '';
  readonly exited: Promise<number>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  }

  async waitForOutput(pattern: RegExp, timeout = 20_000): Promise<void> {
    await waitFor(() => pattern.test(this.output), { timeout, what: `output ${pattern}` }).catch((err: Error) => {
      throw new Error(`${err.message}\n--- output ---\n${this.output}`);
    });
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

/** Every `qm` this test file started that has not exited: killed when the file ends (setup.ts). */
const children = new Set<ChildProcess>();

function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A failed or timed-out test must not leave its `qm` processes running. */
export function killLeftoverQm(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

export function startQm(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): QmProcess {
  const child = track(spawn(process.execPath, [QM_BIN, ...args], {
    cwd,
    env: { ...process.env, QM_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  return new QmProcess(child);
}

/** Runs a short `qm` command to its end. */
export async function runQm(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
  as: { uid?: number; gid?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = track(spawn(process.execPath, [QM_BIN, ...args], { cwd, ...as, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'close', not 'exit': the output may still be in the pipes when the process has exited
  const code = await new Promise<number>((resolve) => child.once('close', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

/**
 * One `qm start` per test: the returned function makes a QM folder with these
 * [QMServer] keys and starts QM on it; after each test QM must stop with exit
 * code 0, and the folder is removed.
 */
export function qmStartPerTest(): (
  server: CfgSections[string],
  env?: NodeJS.ProcessEnv,
) => Promise<{ qm: QmDir; proc: QmProcess }> {
  let current: { qm: QmDir; proc: QmProcess } | undefined;
  afterEach(async () => {
    if (!current) return;
    const { qm, proc } = current;
    current = undefined;
    try {
      expect(await proc.stop()).toBe(0);
    } finally {
      qm.cleanup();
    }
  });
  return async (server, env = {}) => {
    const qm = makeQmDir({ QMServer: server });
    current = { qm, proc: startQm(['start', '-c', qm.cfg], env) };
    await current.proc.waitForOutput(/QM running on/);
    return current;
  };
}

/** What a test of separate roles starts: a Redis, a QM folder and its qm processes. */
export interface Roles {
  redis?: TestRedis;
  qm?: QmDir;
  procs: QmProcess[];
}

/** The Roles of each test, stopped (each process must exit 0) and removed after it. */
export function rolesPerTest(): Roles {
  const roles: Roles = { procs: [] };
  afterEach(async () => {
    const codes = await Promise.all(roles.procs.map((p) => p.stop()));
    roles.procs = [];
    await roles.redis?.stop();
    roles.qm?.cleanup();
    roles.redis = roles.qm = undefined;
    expect(codes.every((c) => c === 0)).toBe(true);
  });
  return roles;
}
