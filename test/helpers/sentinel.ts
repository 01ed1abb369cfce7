/**
 * A private Redis Sentinel set on loopback: 3 redis-server (a primary and two
 * replicas) and 3 redis-sentinel watching them under one master name; kill
 * the primary, wait for the failover, stop it all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './redis.js';
import { waitFor } from './wait.js';

export const MASTER = 'qm';

interface Server {
  port: number;
  child: ChildProcess;
}

async function ask<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  return exited;
}

export class TestSentinels {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'qm-sentinel-'));
  readonly servers: Server[] = [];
  readonly sentinels: Server[] = [];

  /** redis_url for QM: every sentinel, the master name. */
  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER}`;
  }

  static async start(): Promise<TestSentinels> {
    const t = new TestSentinels();
    try {
      await t.startAll();
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  private async startAll(): Promise<void> {
    const ports = [await freePort(), await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir, '--dbfilename', `dump-${i}.rdb`,
        '--appendonly', 'yes', '--appendfilename', `aof-${i}.aof`, '--appenddirname', `aof-${i}`, '--save', '',
        // a primary the sentinels have replaced, not yet told, refuses writes instead of losing them (README)
        '--min-replicas-to-write', '1', '--min-replicas-max-lag', '5'];
      if (i > 0) args.push('--replicaof', '127.0.0.1', String(ports[0]));
      this.servers.push({ port, child: spawn('redis-server', args, { stdio: 'ignore' }) });
    }
    for (const s of this.servers) {
      await waitFor(() => ask(s.port, async (r) => (await r.ping()) === 'PONG'), { timeout: 10_000, what: `redis on ${s.port}` });
    }
    for (const s of this.servers.slice(1)) {
      await waitFor(() => ask(s.port, async (r) => (await r.info('replication')).includes('master_link_status:up')), {
        timeout: 10_000, what: `replica on ${s.port} in sync`,
      });
    }
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = path.join(this.dir, `sentinel-${i}.conf`);
      writeFileSync(conf, [
        `port ${port}`, 'bind 127.0.0.1', `dir ${this.dir}`,
        `sentinel monitor ${MASTER} 127.0.0.1 ${ports[0]} 2`,
        `sentinel down-after-milliseconds ${MASTER} 1000`,
        `sentinel failover-timeout ${MASTER} 10000`,
        `sentinel parallel-syncs ${MASTER} 1`, '',
      ].join('\n'));
      // redis-server in sentinel mode: no redis-sentinel package needed
      this.sentinels.push({ port, child: spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }) });
    }
    // a failover needs each sentinel to know the replicas and a majority of its peers
    for (const s of this.sentinels) {
      await waitFor(
        () => ask(s.port, async (r) => {
          const replicas = (await r.call('SENTINEL', 'REPLICAS', MASTER)) as unknown[];
          const peers = (await r.call('SENTINEL', 'SENTINELS', MASTER)) as unknown[];
          return replicas.length === 2 && peers.length === 2;
        }),
        { timeout: 20_000, what: `sentinel on ${s.port} to know the replicas and its peers` },
      );
    }
  }

  /** The port of the primary, as the sentinels see it. */
  async primaryPort(): Promise<number> {
    const [, port] = await ask(this.sentinels[0]!.port, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)) as [string, string];
    return Number(port);
  }

  /** SIGKILL of the primary's redis-server; its port. */
  async killPrimary(): Promise<number> {
    const port = await this.primaryPort();
    const server = this.servers.find((s) => s.port === port)!;
    await stopChild(server.child, 'SIGKILL');
    return port;
  }

  /** Waits until the sentinels name a primary other than `oldPort` that answers as one. */
  async waitForNewPrimary(oldPort: number, timeout = 30_000): Promise<number> {
    return waitFor(async () => {
      const port = await this.primaryPort();
      if (port === oldPort) return undefined;
      const role = await ask(port, (r) => r.call('ROLE')) as [string];
      return role[0] === 'master' ? port : undefined;
    }, { timeout, interval: 100, what: 'a new primary' });
  }

  /** A client of the current primary. */
  async primaryClient(): Promise<Redis> {
    return new Redis(await this.primaryPort(), '127.0.0.1', { maxRetriesPerRequest: null });
  }

  /** What each sentinel and each live server says (to explain a failed test). */
  async describe(): Promise<string> {
    const lines: string[] = [];
    for (const s of this.sentinels) {
      const addr = await ask(s.port, (r) => r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER)).catch((e: Error) => e.message);
      lines.push(`sentinel ${s.port}: primary ${JSON.stringify(addr)}`);
    }
    for (const s of this.servers) {
      const role = await ask(s.port, async (r) => `${JSON.stringify(await r.call('ROLE'))} done=${await r.zcard('qm:done')}`).catch((e: Error) => e.message);
      lines.push(`redis ${s.port}: ${role}`);
    }
    return lines.join('\n');
  }

  async stop(): Promise<void> {
    for (const s of [...this.sentinels, ...this.servers]) await stopChild(s.child, 'SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
