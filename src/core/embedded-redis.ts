/**
 * The embedded Redis of `qm start` when `redis_url` is empty: a private
 * `redis-server` spawned from PATH, append-only file in QM_FOLDER/.qm,
 * reachable only by the unix socket QM_FOLDER/.qm/redis.sock, which is how
 * the other `qm` commands find it. Started again from its append-only file
 * if it stops while QM runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from './log.js';
import { answersPing } from './redis.js';
import { embeddedSocket } from './folders.js';

export class EmbeddedRedisError extends Error {}

const PID_FILE = 'redis.pid';
const SUPERVISE_MS = 2_000;
const LOADING_WAIT_MS = 60_000;

export { embeddedSocket };

/** Answers PING on the socket? */
const alive = (socket: string) => answersPing({ path: socket });

export interface EmbeddedRedis {
  url: string;
  /** Saves and stops the server (SHUTDOWN). */
  stop(): Promise<void>;
}

/**
 * Starts redis-server on `internalDir/redis.sock`, or adopts one already
 * answering there (left by a `qm start` that was killed). While QM runs, a
 * server that stopped (killed, crashed) is started again from its
 * append-only file.
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
  const pid = await ensureRunning(internalDir, socket);
  log.info(pid ? `embedded redis started on ${socket} (pid ${pid})` : `using the embedded redis already running on ${socket}`);
  let stopped = false;
  let checking = false;
  // the server known to run: while it does, a check is one kill(pid, 0) and a
  // read of its /proc entry, no file of the QM folder (which may be on NFS)
  let known = pid ?? (await serverPid(internalDir));
  const supervisor = setInterval(() => {
    if (stopped || checking || (known !== undefined && isRedisServer(known))) return;
    checking = true;
    void (async () => {
      known = await serverPid(internalDir);
      if (known || (await alive(socket))) return;
      log.warn('embedded redis stopped: starting it again from its append-only file');
      known = await ensureRunning(internalDir, socket);
      log.info(`embedded redis started again (pid ${known})`);
    })()
      .catch((err: Error) => log.error(`cannot start the embedded redis again: ${err.message}`))
      .finally(() => (checking = false));
  }, SUPERVISE_MS);
  supervisor.unref();
  return {
    url,
    stop: () => {
      stopped = true;
      clearInterval(supervisor);
      return shutdown(socket);
    },
  };
}

/**
 * Makes sure a server answers on the socket: the one there, one still loading
 * its append-only file, or a new one (whose pid is returned).
 */
async function ensureRunning(internalDir: string, socket: string): Promise<number | undefined> {
  if (await alive(socket)) return undefined;
  if (await serverPid(internalDir)) {
    // still loading its data: never start a second server on the same files
    await waitAnswering(socket, LOADING_WAIT_MS);
    return undefined;
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
      // its housekeeping once a second, not ten times: what an idle QM costs
      '--hz', '1',
      '--pidfile', path.join(internalDir, PID_FILE),
      '--logfile', path.join(internalDir, 'redis.log'),
    ],
    // its own process group: a Ctrl-C in the terminal must not stop Redis
    // before the jobs still running have been recorded
    { stdio: 'ignore', detached: true },
  );
  await waitStarted(child, socket);
  child.unref();
  return child.pid;
}

/** The pid of the embedded server if its pid file names a live process. */
async function serverPid(internalDir: string): Promise<number | undefined> {
  const text = await fs.readFile(path.join(internalDir, PID_FILE), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && isRedisServer(pid) ? pid : undefined;
}

/** Is process `pid` alive and a redis-server? A pid file left by a crash (or a reboot) may name some other process by now. */
function isRedisServer(pid: number): boolean {
  return runsCommand(pid, /redis-server/);
}

async function waitAnswering(socket: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await alive(socket))) {
    if (Date.now() > deadline) throw new EmbeddedRedisError(`the embedded redis-server does not answer on ${socket}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One `qm start` per QM folder: two would share the embedded Redis and the
 * first to stop would shut it down under the other. A pid file left by a
 * killed `qm start` is taken over.
 */
async function claimOwnership(internalDir: string): Promise<void> {
  const pidFile = path.join(internalDir, 'qm-start.pid');
  const previous = Number((await fs.readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (previous && previous !== process.pid && runsCommand(previous, /cli\.js|\bqm\b/)) {
    throw new EmbeddedRedisError(
      `QM is already running on this folder (qm start, pid ${previous}); stop it first, or use "qm worker" with redis_url to add workers`,
    );
  }
  await fs.writeFile(pidFile, `${process.pid}\n`);
}

/** Is process `pid` alive and running a command like `command`? A recycled pid belongs to some other program. */
function runsCommand(pid: number, command: RegExp): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return command.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
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
