/**
 * The embedded Redis of `qm start` when `redis_url` is empty: a private
 * `redis-server` spawned from PATH, append-only file in QM_FOLDER/.qm,
 * reachable only by the unix socket QM_FOLDER/.qm/redis.sock, which is how
 * the other `qm` commands find it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from './log.js';

export class EmbeddedRedisError extends Error {}

export function embeddedSocket(internalDir: string): string {
  return path.join(internalDir, 'redis.sock');
}

/** Answers PING on the socket within a short time? */
async function alive(socket: string): Promise<boolean> {
  const probe = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export interface EmbeddedRedis {
  url: string;
  /** Saves and stops the server (SHUTDOWN). */
  stop(): Promise<void>;
}

/**
 * Starts redis-server on `internalDir/redis.sock`, or adopts one already
 * answering there (left by a `qm start` that was killed).
 */
export async function startEmbeddedRedis(internalDir: string, log: Logger): Promise<EmbeddedRedis> {
  const socket = embeddedSocket(internalDir);
  if (Buffer.byteLength(socket) > 100) {
    throw new EmbeddedRedisError(
      `the QM folder path is too long for a unix socket (${socket}); set redis_url in QMserv.cfg`,
    );
  }
  const url = `unix://${socket}`;
  await claimOwnership(internalDir);
  if (await alive(socket)) {
    log.info(`using the embedded redis already running on ${socket}`);
    return { url, stop: () => shutdown(socket) };
  }
  await fs.rm(socket, { force: true });
  const child = spawn(
    'redis-server',
    [
      '--port', '0',
      '--unixsocket', socket,
      '--unixsocketperm', '700',
      '--dir', internalDir,
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--logfile', path.join(internalDir, 'redis.log'),
    ],
    // its own process group: a Ctrl-C in the terminal must not stop Redis
    // before the jobs still running have been recorded
    { stdio: 'ignore', detached: true },
  );
  await waitStarted(child, socket);
  child.unref();
  log.info(`embedded redis started on ${socket} (pid ${child.pid})`);
  return { url, stop: () => shutdown(socket) };
}

/**
 * One `qm start` per QM folder: two would share the embedded Redis and the
 * first to stop would shut it down under the other. A pid file left by a
 * killed `qm start` is taken over.
 */
async function claimOwnership(internalDir: string): Promise<void> {
  const pidFile = path.join(internalDir, 'qm-start.pid');
  const previous = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (previous && previous !== process.pid && processAlive(previous)) {
    throw new EmbeddedRedisError(
      `QM is already running on this folder (qm start, pid ${previous}); stop it first, or use "qm worker" with redis_url to add workers`,
    );
  }
  await fs.writeFile(pidFile, `${process.pid}\n`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a recycled pid belongs to some other program
  try {
    return /cli\.js|\bqm\b/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function waitStarted(child: ChildProcess, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      if (err) reject(err);
      else resolve();
    };
    child.once('error', (err: NodeJS.ErrnoException) =>
      finish(
        new EmbeddedRedisError(
          err.code === 'ENOENT'
            ? 'redis-server not found: install it (apt-get install redis-server, brew install redis) or set redis_url in QMserv.cfg'
            : `cannot start redis-server: ${err.message}`,
        ),
      ),
    );
    child.once('exit', (code) =>
      finish(new EmbeddedRedisError(`redis-server exited with code ${code}; see ${path.join(path.dirname(socket), 'redis.log')}`)),
    );
    const started = Date.now();
    const timer = setInterval(() => {
      void alive(socket).then((ok) => {
        if (ok) finish();
        else if (Date.now() - started > 15_000) finish(new EmbeddedRedisError('redis-server did not answer within 15 s'));
      });
    }, 25);
  });
}

async function shutdown(socket: string): Promise<void> {
  const client = new Redis({ path: socket, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.call('SHUTDOWN');
  } catch {
    // SHUTDOWN closes the connection before answering: that is success
  } finally {
    client.disconnect();
  }
}
