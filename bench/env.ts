/**
 * The bench's playground, all of it real and private:
 * 1. a temp folder holding QM folders ("sites"), each with its QMserv.cfg and
 *    a staging folder on the same filesystem (so a drop is one rename);
 * 2. a private redis-server on a random loopback port;
 * 3. `qm` roles started from the built dist/cli.js, their log in a file;
 * 4. which `qm` commands this build has (submit and monitor come later).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { layoutOf, type Layout } from '../src/core/folders.js';
import { answersPing } from '../src/core/redis.js';
import { sleep, waitUntil } from './wait.js';

/** The repository root: the nearest folder above this module with QM's package.json. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'qm') return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the QM repository root');
    dir = up;
  }
}

let cli = path.join(repoRoot(), 'dist', 'cli.js');

/** The `qm` under test: this repository's build, or another one (`--qm`, to compare builds). */
export function qmBin(): string {
  return cli;
}

export function useQm(file: string): void {
  cli = path.resolve(file);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Does this build of `qm` have the command? (`qm NAME --help` prints its own usage.) */
export function hasCommand(name: string): boolean {
  const r = spawnSync(process.execPath, [qmBin(), name, '--help'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith(`Usage: qm ${name}`);
}

/** A private redis-server, persisted like the embedded one (append-only, fsync every second). */
export class PrivateRedis {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(dir: string): Promise<PrivateRedis> {
    const port = await freePort();
    mkdirSync(dir, { recursive: true });
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''],
      { stdio: 'ignore' },
    );
    const redis = new PrivateRedis(child, port);
    await waitUntil(() => redis.ping(), 10_000, `redis-server on port ${port}`);
    return redis;
  }

  client(): Redis {
    return new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: null });
  }

  private ping(): Promise<boolean> {
    return answersPing({ port: this.port, host: '127.0.0.1' });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** One QM folder with its config, a staging folder beside it and a folder for the jobs' start stamps. */
export interface Site extends Layout {
  base: string;
  cfg: string;
  staging: string;
  stamps: string;
  /** the monitor's port (set in the config for when the build has a monitor) */
  port: number;
}

export async function makeSite(parent: string, name: string, server: Record<string, string | number>): Promise<Site> {
  const base = path.join(parent, name);
  const layout = layoutOf(path.join(base, 'QM'));
  const site: Site = {
    ...layout,
    base,
    cfg: path.join(base, 'QMserv.cfg'),
    staging: path.join(base, 'staging'),
    stamps: path.join(base, 'stamps'),
    port: await freePort(),
  };
  for (const dir of [layout.queued, layout.running, layout.done, layout.lost, site.staging, site.stamps]) {
    mkdirSync(dir, { recursive: true });
  }
  const lines = Object.entries({ QM_FOLDER: 'QM', job_file: 'proc_config.cfg', ...server }).map(([k, v]) => `${k} = ${v}`);
  writeFileSync(
    site.cfg,
    `[QMServer]\n${lines.join('\n')}\n\n[WEB_QMserver]\nHost = 127.0.0.1\nThe_Port = ${site.port}\n`,
  );
  return site;
}

/** A `qm` process, output in a log file, as a user would run it (log level info). */
export class Role {
  private constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
    readonly what: string,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static start(args: string[], logFile: string, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Role {
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [...nodeArgs, qmBin(), ...args], {
      env: { ...process.env, QM_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    return new Role(child, logFile, `qm ${args.join(' ')}`);
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async waitLog(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null;
    await waitUntil(
      () => {
        if (this.child.exitCode !== null) throw new Error(`${this.what} exited with code ${this.child.exitCode}:\n${this.log()}`);
        match = pattern.exec(this.log());
        return match !== null;
      },
      timeoutMs,
      `${pattern} in the log of ${this.what}`,
    );
    return match!;
  }

  /** SIGTERM and wait for the exit (SIGKILL if it takes more than `graceMs`). */
  async stop(graceMs = 30_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The temp folder of one bench run; `dispose` ends what is still running and removes it. */
export class Playground {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'qm-bench-'));
  private readonly roles: Role[] = [];
  private readonly redises: PrivateRedis[] = [];
  /** processes started by the roles that outlive them when a role is killed (an embedded redis-server) */
  private readonly strays: number[] = [];

  start(args: string[], name: string, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Role {
    const role = Role.start(args, path.join(this.dir, `${name}.log`), env, nodeArgs);
    this.roles.push(role);
    return role;
  }

  async redis(): Promise<PrivateRedis> {
    const r = await PrivateRedis.start(path.join(this.dir, `redis-${this.redises.length}`));
    this.redises.push(r);
    return r;
  }

  /** The roles not yet exited. */
  running(): Role[] {
    return this.roles.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  }

  /** A process a role started that must not outlive the run (matched by its command line when ended). */
  adoptStray(pid: number): void {
    this.strays.push(pid);
  }

  async dispose(keep: boolean): Promise<void> {
    await Promise.allSettled(this.roles.map((r) => r.stop(5_000)));
    for (const pid of this.strays) {
      // only if it is still the process we adopted (its command line names our folder)
      if (!commandLine(pid).includes(this.dir)) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone meanwhile
      }
    }
    await Promise.allSettled(this.redises.map((r) => r.stop()));
    await sleep(50);
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
