/**
 * A Docker engine for the compose test, and the base images it needs.
 * 1. Uses the engine that answers (DOCKER_HOST or the default socket); else
 *    starts `dockerd` as root with its own data, state and socket in a temp
 *    folder, and on stop puts the host back: dockerd stopped, iptables as
 *    they were, no docker0 bridge if there was none, the folder removed.
 * 2. Stand-ins for node:20-bookworm-slim and redis:7-bookworm when missing
 *    (Docker Hub is unreachable here): Debian bookworm by debootstrap, this
 *    host's Node 20 and npm and its certificate authorities, Debian's
 *    redis-server (test/docker/stand-ins/*.Dockerfile). What it built, it
 *    names, so that the test removes only that.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';

const STAND_INS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'stand-ins');
const BASE_IMAGE = 'qm-test/debian:bookworm';
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export interface DockerHost {
  /** environment for docker and docker-compose */
  env: NodeJS.ProcessEnv;
  /** true when this test started the engine */
  started: boolean;
  stop(): Promise<void>;
}

/**
 * Runs a command to its end without blocking this process (a build takes
 * minutes: the test runner must keep hearing from it); throws with its output
 * when it fails.
 */
export function runAsync(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { input?: Buffer | string; allowFail?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} → exit ${code}\n${stdout}\n${stderr}`));
      else resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input);
  });
}

/** Runs a short command to its end; throws with its output when it fails. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: { input?: Buffer | string; cwd?: string; allowFail?: boolean } = {}) {
  const r = spawnSync(cmd, args, { env, input: opts.input, cwd: opts.cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} → exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const answers = (env: NodeJS.ProcessEnv) => spawnSync('docker', ['info'], { env, stdio: 'ignore' }).status === 0;

export async function dockerHost(): Promise<DockerHost> {
  if (answers(process.env)) return { env: { ...process.env }, started: false, stop: async () => undefined };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-dockerd-'));
  const iptables = run('iptables-save', [], process.env).stdout;
  const bridgesBefore = new Set(bridges());
  const socket = path.join(dir, 'docker.sock');
  const env = { ...process.env, DOCKER_HOST: `unix://${socket}` };
  const dockerd: ChildProcess = spawn('dockerd', [
    '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'),
    '--pidfile', path.join(dir, 'dockerd.pid'), '-H', `unix://${socket}`,
  ], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => dockerd.once('exit', () => resolve()));
  const stop = async () => {
    if (dockerd.exitCode === null) {
      dockerd.kill('SIGTERM');
      await exited;
    }
    restoreFirewall(iptables);
    // docker0, and the bridges of compose networks an engine may leave behind
    for (const name of bridges()) if (!bridgesBefore.has(name)) spawnSync('ip', ['link', 'delete', name], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => answers(env), { timeout: 60_000, interval: 250, what: 'dockerd to answer' });
  } catch (err) {
    await stop();
    throw err;
  }
  return { env, started: true, stop };
}

/**
 * The host's iptables as they were before dockerd: the tables it had are
 * restored, those dockerd made are removed (with nft, the backend here) or
 * emptied with their policies back to ACCEPT.
 */
function restoreFirewall(before: string): void {
  const tables = (dump: string) => new Set([...dump.matchAll(/^\*(\w+)$/gm)].map((m) => m[1]!));
  const had = tables(before);
  for (const table of tables(run('iptables-save', [], process.env, { allowFail: true }).stdout)) {
    if (had.has(table)) continue;
    if (spawnSync('nft', ['delete', 'table', 'ip', table], { stdio: 'ignore' }).status === 0) continue;
    spawnSync('iptables', ['-t', table, '-F']);
    spawnSync('iptables', ['-t', table, '-X']);
    const chains = table === 'nat' ? ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'] : ['INPUT', 'FORWARD', 'OUTPUT'];
    for (const chain of chains) spawnSync('iptables', ['-t', table, '-P', chain, 'ACCEPT']);
  }
  if (had.size > 0) spawnSync('iptables-restore', [], { input: before });
}

/** Names of this host's bridge interfaces. */
function bridges(): string[] {
  return run('ip', ['-o', 'link', 'show', 'type', 'bridge'], process.env, { allowFail: true })
    .stdout.split('\n')
    .map((line) => /^\d+: ([^:@\s]+)/.exec(line)?.[1])
    .filter((n): n is string => Boolean(n));
}

const hasImage = (env: NodeJS.ProcessEnv, tag: string) => spawnSync('docker', ['image', 'inspect', tag], { env, stdio: 'ignore' }).status === 0;

/** Builds the missing stand-ins; the tags it built (BASE_IMAGE among them if it had to). */
export async function standIns(env: NodeJS.ProcessEnv): Promise<string[]> {
  const wanted = [
    { tag: 'node:20-bookworm-slim', dockerfile: 'node.Dockerfile' },
    { tag: 'redis:7-bookworm', dockerfile: 'redis.Dockerfile' },
  ].filter((s) => !hasImage(env, s.tag));
  if (wanted.length === 0) return [];
  const built: string[] = [];
  const work = mkdtempSync(path.join(os.tmpdir(), 'qm-stand-ins-'));
  try {
    if (!hasImage(env, BASE_IMAGE)) {
      const rootfs = path.join(work, 'rootfs');
      await runAsync('debootstrap', ['--variant=minbase', 'bookworm', rootfs, DEBIAN_MIRROR], env);
      await runAsync('sh', ['-c', `tar -C '${rootfs}' -c . | docker import --change 'CMD ["bash"]' - ${BASE_IMAGE}`], env);
      rmSync(rootfs, { recursive: true, force: true });
      built.push(BASE_IMAGE);
    }
    // the build context: this host's node, npm and certificate authorities
    const context = path.join(work, 'context');
    mkdirSync(context);
    const node = process.execPath;
    cpSync(node, path.join(context, 'node'));
    const npm = [path.join(path.dirname(node), '../lib/node_modules/npm'), '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm'].find(existsSync);
    if (!npm) throw new Error('npm not found beside node: cannot build the node stand-in');
    cpSync(npm, path.join(context, 'npm'), { recursive: true });
    cpSync('/etc/ssl/certs/ca-certificates.crt', path.join(context, 'ca-certificates.crt'));
    for (const s of wanted) {
      await runAsync('docker', ['build', '-q', '-t', s.tag, '-f', path.join(STAND_INS, s.dockerfile), context], env);
      built.push(s.tag);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return built;
}
