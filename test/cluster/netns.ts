/**
 * A small lab of "hosts" on this machine (root only): one network namespace
 * per host, all plugged into a bridge that lives in a namespace of its own
 * (10.77.0.0/24; the machine's own network is never touched). A process
 * started on a host also gets its own hostname (UTS namespace) and sees the
 * shared folder at a path of its own (a bind mount in a private mount
 * namespace), as NFS clients mounting one export at different places would.
 * Namespaces are named `qmlab-<pid>-<host>`; `destroy` kills everything in
 * them and deletes them, and a new lab first removes those of dead test runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const PREFIX = 'qmlab-';
const SUBNET = '10.77.0';

function ip(args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

function namespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pidsIn(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean).map(Number) : [];
}

function removeNamespace(ns: string): void {
  for (const pid of pidsIn(ns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/** Why namespaces cannot be made here, or undefined when they can. */
export function namespaceProblem(): string | undefined {
  const probe = `${PREFIX}${process.pid}-probe`;
  try {
    ip(['netns', 'add', probe]);
    ip(['netns', 'del', probe]);
  } catch (err) {
    return (err as Error).message;
  }
  if (spawnSync('unshare', ['--uts', '--mount', 'true']).status !== 0) return 'unshare --uts --mount failed';
  return undefined;
}

export interface Host {
  name: string;
  ns: string;
  address: string;
  /** where this host sees the shared folder */
  view: string;
}

export class Lab {
  readonly hosts = new Map<string, Host>();
  private readonly switchNs = `${PREFIX}${process.pid}-switch`;
  private readonly tag = process.pid.toString(36);

  /**
   * Hosts named as given, addresses 10.77.0.<octet>; `share` is seen by each
   * at `<views>/<host>`.
   */
  constructor(
    private readonly share: string,
    views: string,
    specs: { name: string; octet: number }[],
  ) {
    for (const old of namespaces()) {
      const owner = /^qmlab-(\d+)-/.exec(old);
      if (owner && !alive(Number(owner[1]))) removeNamespace(old);
    }
    ip(['netns', 'add', this.switchNs]);
    ip(['-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    specs.forEach(({ name, octet }, i) => {
      const ns = `${PREFIX}${process.pid}-${name}`;
      const address = `${SUBNET}.${octet}`;
      const [hostEnd, switchEnd] = [`qh${this.tag}${i}`, `qs${this.tag}${i}`];
      ip(['netns', 'add', ns]);
      this.hosts.set(name, { name, ns, address, view: path.join(views, name) });
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['link', 'add', hostEnd, 'netns', ns, 'type', 'veth', 'peer', 'name', switchEnd, 'netns', this.switchNs]);
      ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', hostEnd]);
      ip(['-n', ns, 'link', 'set', hostEnd, 'up']);
      ip(['-n', this.switchNs, 'link', 'set', switchEnd, 'master', 'br0']);
      ip(['-n', this.switchNs, 'link', 'set', switchEnd, 'up']);
      mkdirSync(path.join(views, name), { recursive: true });
    });
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** Runs argv on a host: its network, its hostname, the share at its own path. */
  spawn(name: string, argv: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const h = this.host(name);
    const setup = 'hostname "$LAB_HOST" && mount --bind "$LAB_SHARE" "$LAB_VIEW" && cd "$LAB_VIEW" && exec "$@"';
    return spawn(
      'ip',
      ['netns', 'exec', h.ns, 'unshare', '--uts', '--mount', '--propagation', 'private', 'sh', '-c', setup, 'sh', ...argv],
      {
        env: { ...process.env, ...env, LAB_HOST: name, LAB_SHARE: this.share, LAB_VIEW: h.view },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  }

  /** Pulls the plug: every process of that host dies at once (SIGKILL). */
  killHost(name: string): number {
    const pids = pidsIn(this.host(name).ns);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return pids.length;
  }

  processCount(name: string): number {
    return pidsIn(this.host(name).ns).length;
  }

  destroy(): void {
    for (const h of this.hosts.values()) removeNamespace(h.ns);
    removeNamespace(this.switchNs);
  }
}
