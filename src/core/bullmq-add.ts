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
 */
import { createRequire } from 'node:module';
import { TESTED_BULLMQ_VERSION, bullKey, type BullKeys } from './bullmq-internals.js';
import { pack, type Packable } from './msgpack.js';
import type { StoreBatch, StoreRedis } from './store-redis.js';

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
/** A script's text as BullMQ ships it, read when first used (a submission needs one of the two). */
function shipped(file: string, name: string): () => ShippedScript {
  let script: ShippedScript | undefined;
  return () => (script ??= (load(`bullmq/dist/cjs/scripts/${file}.js`) as Record<string, ShippedScript>)[name]!);
}

/** Each add script: its command name on a connection, its text, and BullMQ's key types in KEYS order. */
const SCRIPTS = {
  delayed: {
    command: 'bullmqAddDelayedJob',
    script: shipped('addDelayedJob-6', 'addDelayedJob'),
    keyTypes: ['marker', 'meta', 'id', 'delayed', 'completed', 'events'],
  },
  prioritized: {
    command: 'bullmqAddPrioritizedJob',
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

/** Per connection: the add scripts defined on it, and whether the queue's meta was written. */
const prepared = new WeakMap<StoreRedis, { defined: Set<string>; meta: boolean }>();

/** Adds the jobs in one pipeline (one round trip), as Queue.addBulk does; throws on the first that failed. */
export async function addJobs(redis: StoreRedis, bull: BullKeys, jobs: NewJob[]): Promise<void> {
  const state = prepared.get(redis) ?? { defined: new Set<string>(), meta: false };
  prepared.set(redis, state);
  const used = jobs.map((job) => (job.delayMs !== undefined && job.delayMs > 0 ? SCRIPTS.delayed : SCRIPTS.prioritized));
  // a pipeline has the commands its connection had when it was made
  for (const { command, script } of new Set(used)) {
    if (state.defined.has(command)) continue;
    redis.defineCommand(command, { numberOfKeys: script().keys, lua: script().content });
    state.defined.add(command);
  }
  const pipeline = redis.pipeline();
  const meta = !state.meta;
  if (meta) pipeline.hset(bullKey(bull, 'meta'), QUEUE_META);
  jobs.forEach((job, i) => {
    const { command, keyTypes } = used[i]!;
    const run = (pipeline as unknown as Record<string, (...args: Array<string | Buffer>) => StoreBatch>)[command]!;
    run.call(pipeline, ...keyTypes.map((type) => bullKey(bull, type)), ...scriptArgs(bull, job));
  });
  const results = (await pipeline.exec()) ?? [];
  if (meta) state.meta = true;
  for (const [err, result] of results) {
    if (err) throw err;
    if (typeof result === 'number' && result < 0) throw new Error(`BullMQ's add script refused a job (code ${result})`);
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
