/** A private redis-server per test file: random port, temp dir; stop, restart, wipe. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './wait.js';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll } from 'vitest';
import { answersPing, openQueue } from '../../src/core/redis.js';

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

export class TestRedis {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'qm-redis-'));

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<TestRedis> {
    const r = new TestRedis(await freePort());
    await r.startServer();
    return r;
  }

  async startServer(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--save', ''],
      { stdio: 'ignore' },
    );
    await waitFor(() => this.ping(), { timeout: 10_000, what: `redis on ${this.port}` });
  }

  ping(): Promise<boolean> {
    return answersPing({ port: this.port, host: '127.0.0.1' });
  }

  client(): Redis {
    return new Redis(this.port, '127.0.0.1', { maxRetriesPerRequest: null });
  }

  async stopServer(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async flushall(): Promise<void> {
    const c = this.client();
    await c.flushall();
    c.disconnect();
  }

  async stop(): Promise<void> {
    await this.stopServer();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TestQueue {
  server: TestRedis;
  /** a client of it */
  redis: Redis;
  /** QM's BullMQ queue on it */
  queue: Queue;
}

/**
 * For the tests of one file: a private Redis, a client and QM's queue on it,
 * there from the first test (fields set before it) and closed after the last.
 */
export function testQueue(): TestQueue {
  const t = {} as TestQueue;
  beforeAll(async () => {
    t.server = await TestRedis.start();
    t.redis = t.server.client();
    t.queue = openQueue(t.redis);
  });
  afterAll(async () => {
    await t.queue.close();
    t.redis.disconnect();
    await t.server.stop();
  });
  return t;
}

/** The id of the queue's last event now ('0-0' when none), as a worker's pick returns it. */
export async function lastEventId(t: TestQueue): Promise<string> {
  const [last] = await t.redis.xrevrange(t.queue.keys.events!, '+', '-', 'COUNT', 1);
  return last?.[0] ?? '0-0';
}
