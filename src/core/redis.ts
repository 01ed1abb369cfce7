/**
 * The one module that makes Redis connections and names keys.
 * 1. Turns `redis_url` (redis://, rediss://, unix://, redis+sentinel://) into
 *    ioredis options; a malformed URL is one line saying what is wrong.
 * 2. Opens connections that retry forever and log an outage once; through
 *    Sentinel they follow the primary across a failover.
 * 3. Names the BullMQ queue and QM's own keys.
 */
import { Redis } from 'ioredis';
import { bullmqClasses, type Queue } from './bullmq-internals.js';
import { bullQueueKeys } from './bullmq-add.js';
import type { Logger } from './log.js';
import { redisOptions } from './redis-url.js';

export { RedisUrlError, displayUrl, redisOptions } from './redis-url.js';

/** BullMQ prefix and queue name: keys `bull:qm:*`. */
export const BULL_PREFIX = 'bull';
export const QUEUE_NAME = 'qm';
/** The queue's BullMQ keys (those of a Queue opened by openQueue), known without opening one. */
export const bullKeys = bullQueueKeys(BULL_PREFIX, QUEUE_NAME);

/** QM's own keys, beside BullMQ's. */
export const keys = {
  /** hash: name of a queued job → its BullMQ id (the queue's name index) */
  names: 'qm:names',
  /** hash: BullMQ id → RunningInfo JSON */
  running: 'qm:running',
  /** zset: id by end time (ms) */
  done: 'qm:done',
  /** hash: name → id of its latest done record */
  doneByName: 'qm:done:names',
  /** string: QM_dJobs has been read for folders without a record (ingest/done-folders.ts) */
  doneScanned: 'qm:done:scanned',
  /** string: DoneRecord JSON */
  record: (id: string) => `qm:rec:${id}`,
  /** string with TTL: a live worker's heartbeat (JSON) */
  worker: (name: string) => `qm:worker:${name}`,
  workerPattern: 'qm:worker:*',
  /** set: names of workers that have sent a heartbeat (the live ones still have one) */
  workers: 'qm:workers',
  /** set: ids of the jobs put aside until job NAME has finished (its `after` dependents) */
  dependents: (name: string) => `qm:after:${name}`,
  /** pub/sub channel: kill requests and other control messages */
  control: 'qm:control',
  /** string with TTL: who is moving the job of a lost worker (one process at a time) */
  reapLock: (id: string) => `qm:reap:${id}`,
  /** string with TTL: the worker instance a job was taken from when declared lost */
  lostMark: (id: string) => `qm:lost:${id}`,
  /** hash: array name → ArrayInfo JSON (its id and indices: `after NAME` waits for every task) */
  arrays: 'qm:arrays',
  /** hash: array id → its tasks not started yet (the template folder leaves QM_qJobs at 0) */
  arrayLeft: 'qm:array:left',
  /** set: ids of an array's tasks a worker holds (`%K`: counted by the pick) */
  arrayActive: (id: string) => `qm:array:active:${id}`,
  /** hash: outcome kind → jobs that ended so (a counter that only grows, for /metrics) */
  finished: 'qm:finished',
  /** string with TTL: the active ingest (IngestLease JSON); the others stand by */
  ingestLease: 'qm:ingest:lease',
  /** zset (scores 0: by name): the folders of QM_qJobs the active ingest sees settling, not queued yet */
  ingestSettling: 'qm:ingest:settling',
  /** string: the lease (JSON) of the ingest whose list `ingestSettling` is, once that list is whole */
  ingestSettlingBy: 'qm:ingest:settling:by',
  /** string: the monitors' CSRF secret (hex), shared by every monitor on this Redis */
  csrfSecret: 'qm:monitor:csrf',
} as const;

/**
 * A connection for a short command (`qm submit`, `qm status`...): it gives up
 * after a few attempts, so a Redis that is down is one clear error, not a hang.
 */
export function connectClient(url: string): Redis {
  const redis = new Redis({
    ...redisOptions(url),
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    connectionName: 'qm-client',
    retryStrategy: (attempt) => (attempt > 3 ? null : attempt * 200),
    // through Sentinel: every sentinel unreachable is an error too, not a wait
    sentinelRetryStrategy: (attempt) => (attempt > 3 ? null : attempt * 200),
    reconnectOnError,
  });
  redis.on('error', () => undefined); // reported by the failing command
  return redis;
}

/**
 * After a failover a connection may still reach the old primary, now a
 * replica: its writes fail with READONLY and its blocking reads are ended
 * with UNBLOCKED. A primary cut off from its replicas while the sentinels
 * promote another refuses writes with NOREPLICAS (with min-replicas-to-write
 * set, as README "Redis Sentinel" advises): none of them was applied.
 * Reconnecting (through Sentinel: to the primary in force) and sending the
 * command again is right for all three.
 */
function reconnectOnError(err: Error): 2 | false {
  return /^(READONLY|UNBLOCKED|NOREPLICAS)/.test(err.message) ? 2 : false;
}

/**
 * A connection that retries forever (jobs keep running while Redis is away)
 * and logs the outage once and the recovery once.
 */
export function connect(url: string, log: Logger, purpose: string): Redis {
  const redis = new Redis({
    ...redisOptions(url),
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    connectionName: `qm-${purpose}`,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    reconnectOnError,
  });
  watchOutage(redis, log, purpose);
  return redis;
}

/** Connections of this process that are down: the outage is one event for the whole process. */
const downConnections = new Set<Redis>();

/**
 * Logs an outage once per process (when its first connection fails) and the
 * recovery once (when the last one is back), nothing in between.
 */
export function watchOutage(redis: Redis, log: Logger, purpose: string): void {
  const recovered = () => {
    if (!downConnections.delete(redis)) return;
    if (downConnections.size === 0) log.info(`redis reachable again (${purpose})`);
  };
  redis.on('error', (err: Error) => {
    if (downConnections.has(redis)) return;
    if (downConnections.size === 0) log.warn(`redis unreachable (${purpose}): ${err.message}; retrying`);
    downConnections.add(redis);
  });
  redis.on('ready', recovered);
  // closed for good (disconnect): no longer part of the outage
  redis.on('end', () => downConnections.delete(redis));
}

/**
 * At shutdown: waits for `work` (which may need Redis) for at most `ms`
 * while Redis is unreachable, without limit while it answers. True when all
 * of it ended.
 */
export async function finishUnlessAway(redis: Redis, work: Promise<unknown>[], ms: number): Promise<boolean> {
  const all = Promise.allSettled(work).then(() => true);
  if (redis.status === 'ready') return all;
  const late = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref());
  return Promise.race([all, late]);
}

/** Does a Redis server answer PING there, now (one short-lived connection, no retries)? */
export async function answersPing(where: { path: string } | { port: number; host?: string }): Promise<boolean> {
  const probe = new Redis({ ...where, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
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

export function openQueue(connection: Redis): Queue {
  const queue = new (bullmqClasses().Queue)(QUEUE_NAME, { connection, prefix: BULL_PREFIX });
  // its errors are those of the connection, logged once by watchOutage; without
  // a listener BullMQ prints each one with its stack
  queue.on('error', () => undefined);
  return queue;
}
