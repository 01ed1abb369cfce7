/**
 * Adding jobs to the pinned BullMQ's queue without loading BullMQ's classes
 * (loading them took most of a `qm submit`): the very scripts Queue.add runs,
 * as BullMQ ships them (their includes resolved), given the KEYS and ARGV
 * Queue.add gives them. test/core/bullmq-add.test.ts checks that Redis ends
 * up holding what Queue.add leaves there.
 * 1. A delayed job goes through addDelayedJob, any other through
 *    addPrioritizedJob: every QM job has a BullMQ priority (bullPriority), so
 *    Queue.add would never take its standard path for one.
 * 2. The options are those Queue.add packs (the Job's defaults first, then
 *    QM's), so that the `opts` JSON in the job's hash is the same.
 * 3. The queue's meta (BullMQ's version, the events stream's length) is
 *    written with the first add on a connection, as a BullMQ Queue writes it
 *    when it opens.
 * 4. The queue's keys, named as BullMQ names them (a Queue's `keys`).
 * 5. The scripts are called by their sha (EVALSHA): Redis holds them once
 *    anything added a job since it started, so their text is read from
 *    BullMQ's files and sent (SCRIPT LOAD) only when it answers NOSCRIPT.
 */
import { createRequire } from 'node:module';
import { TESTED_BULLMQ_VERSION, bullKey, type BullKeys } from './bullmq-internals.js';
import { pack, type Packable } from './msgpack.js';
import type { StoreRedis } from './store-redis.js';

/** A BullMQ job to add. */
export interface NewJob {
  id: string;
  name: string;
  data: unknown;
  /** BullMQ's priority: 1 (first) to 2,097,151 */
  priority: number;
  /** kept out of the queue this long (BullMQ's delayed set) */
  delayMs?: number;
  /** how many completed and failed jobs BullMQ keeps (removeOnComplete/removeOnFail count) */
  keep: number;
}

interface ShippedScript {
  content: string;
  keys: number;
}

const load = createRequire(import.meta.url);
/** A script's text as BullMQ ships it, read when first needed. */
function shipped(file: string, name: string): () => ShippedScript {
  let script: ShippedScript | undefined;
  return () => (script ??= (load(`bullmq/dist/cjs/scripts/${file}.js`) as Record<string, ShippedScript>)[name]!);
}

/**
 * Each add script: its sha (the SHA-1 of its text, which Redis names it by:
 * test/core/bullmq-add.test.ts checks it), its text, and BullMQ's key types
 * in KEYS order.
 */
export const ADD_SCRIPTS = {
  delayed: {
    sha: '81698fd2d28e7db1787595b3c464b188fa78bdcf',
    script: shipped('addDelayedJob-6', 'addDelayedJob'),
    keyTypes: ['marker', 'meta', 'id', 'delayed', 'completed', 'events'],
  },
  prioritized: {
    sha: '299880da0f75f0b376ee8e87d20eae62f964ac5e',
    script: shipped('addPrioritizedJob-9', 'addPrioritizedJob'),
    keyTypes: ['marker', 'meta', 'id', 'prioritized', 'delayed', 'completed', 'active', 'events', 'pc'],
  },
} as const;

/** The meta a BullMQ Queue writes when it opens (Queue.metaValues, with no `streams` option). */
const QUEUE_META = { 'opts.maxLenEvents': 10000, version: `bullmq:${TESTED_BULLMQ_VERSION}` };

/** The keys of queue `name` under `prefix`, as BullMQ's QueueKeys names them. */
export function bullQueueKeys(prefix: string, name: string): BullKeys {
  const types = ['', 'active', 'wait', 'waiting-children', 'paused', 'id', 'delayed', 'prioritized', 'stalled-check', 'completed', 'failed',
    'stalled', 'repeat', 'limiter', 'meta', 'events', 'pc', 'marker', 'de'];
  return Object.fromEntries(types.map((type) => [type, `${prefix}:${name}:${type}`]));
}

/** Connections that wrote the queue's meta. */
const metaWritten = new WeakSet<StoreRedis>();

/** Adds the jobs in one pipeline (one round trip), as Queue.addBulk does; throws on the first that failed. */
export async function addJobs(redis: StoreRedis, bull: BullKeys, jobs: NewJob[]): Promise<void> {
  let adds = jobs.map((job) => {
    const add = job.delayMs !== undefined && job.delayMs > 0 ? ADD_SCRIPTS.delayed : ADD_SCRIPTS.prioritized;
    return { add, keysAndArgs: [...add.keyTypes.map((type) => bullKey(bull, type)), ...scriptArgs(bull, job)] };
  });
  const meta = !metaWritten.has(redis);
  for (let attempt = 1; ; attempt++) {
    const pipeline = redis.pipeline();
    if (meta && attempt === 1) pipeline.hset(bullKey(bull, 'meta'), QUEUE_META);
    for (const { add, keysAndArgs } of adds) pipeline.evalsha(add.sha, add.keyTypes.length, ...keysAndArgs);
    const results = (await pipeline.exec()) ?? [];
    if (meta && attempt === 1) {
      const [err] = results.shift() ?? [null];
      if (err) throw err;
      metaWritten.add(redis);
    }
    const unknown = (err: Error | null) => attempt === 1 && err?.message.startsWith('NOSCRIPT');
    for (const [err, result] of results) {
      if (err && !unknown(err)) throw err;
      if (typeof result === 'number' && result < 0) throw new Error(`BullMQ's add script refused a job (code ${result})`);
    }
    // Redis did not hold a script (it was restarted, or flushed its scripts): those adds again, the script loaded
    adds = adds.filter((_, i) => unknown(results[i]![0]));
    if (adds.length === 0) return;
    for (const add of new Set(adds.map((a) => a.add))) await redis.script('LOAD', add.script().content);
  }
}

/** ARGV as Queue.add makes it: the packed arguments, the data as JSON, the packed options. */
function scriptArgs(bull: BullKeys, job: NewJob): [Buffer, string, Buffer] {
  // key prefix, id, name, timestamp, then parent key, parent dependencies key, parent,
  // repeat job key, deduplication key, deferred parent release: none for a QM job
  const args: Packable[] = [bullKey(bull, ''), job.id, job.name, Date.now(), null, null, undefined, undefined, null, null];
  // Queue.add's order: the Job's default attempts, then the options as QM passes them
  const opts: Record<string, Packable> = { attempts: 0, jobId: job.id, priority: job.priority };
  if (job.delayMs !== undefined) opts.delay = job.delayMs;
  opts.removeOnComplete = { count: job.keep };
  opts.removeOnFail = { count: job.keep };
  return [pack(args), JSON.stringify(job.data === undefined ? {} : job.data), pack(opts)];
}
