/**
 * QM's side of Redis: the BullMQ queue and QM's own keys, behind named reads
 * and writes (the connection is its own; nothing else runs commands on QM's
 * keys). The filesystem stays the truth: all of this can be rebuilt from the
 * folders (ingest re-enqueues QM_qJobs). The lifecycle (lifecycle.ts) decides
 * when each write happens.
 * 1. The queue: add a job under its name (one queued job per name), pick the
 *    next job for a worker, take a queued job to end it unrun, drop one.
 * 2. A run's start and end: its running entry, its done record (one script
 *    each), and the jobs put aside until then, woken.
 * 3. Reads for the read model, dependencies and the roles.
 * Below it, each a layer this extends: the name index and the arrays'
 * entries (queue-index.ts), the running table and the done records' reads
 * (run-records.ts), workers, the ingest lease and the shared secret
 * (coordination-store.ts).
 */
import type { Job, JobType, Queue } from 'bullmq';
import { randomHex } from './random-hex.js';
import { bullKeys, keys } from './keys.js';
import type { StoreRedis } from './store-redis.js';
import {
  HOLD_SCRIPT, PICK_SCRIPT, TAKE_QUEUED_SCRIPT, bullKey, bullPriority, delayBeforePick, hashOf, holdKeys, jobFromHash,
  pickBullKeys, takeQueuedKeys, type PickReply,
} from './bullmq-internals.js';
import { addJobs } from './bullmq-add.js';
import {
  CLAIM_NAMES_SCRIPT, FINISH_SCRIPT, START_SCRIPT,
} from './store-scripts.js';
import { foundRecordId, type DoneRecord, type QueuedJob, type RunningInfo } from './status.js';
import type { ArrayInfo } from './arrays.js';
import { CHUNK } from './coordination-store.js';
import { QueueIndex } from './queue-index.js';

/** Jobs a pick looks at: a worker does not see past this many jobs too big for it. */
const PICK_SCAN_LIMIT = 1000;

export function newJobId(): string {
  return `${Date.now().toString(36)}-${randomHex(4)}`;
}

export type Pick =
  /** made active under the worker's lock, to run with nbProc processors */
  | { kind: 'taken'; id: string; job: Job<QueuedJob>; nbProc: number }
  /** made active under the worker's lock: recorded as running, its worker was lost */
  | { kind: 'recover'; id: string; job: Job<QueuedJob> }
  /** the first job this worker could run has no room yet: start nothing behind it */
  | { kind: 'waiting'; id: string; name: string; nbProc: number; lastEventId: string }
  /** nothing for this worker (or the job vanished); when a delayed job becomes due, if any */
  | { kind: 'none'; nextDelayedAt: number | undefined; lastEventId: string };

export interface PickRequest {
  worker: string;
  token: string;
  lockMs: number;
  /** processors free on this worker now (0 when a blocking worker runs a job) */
  free: number;
  /** this worker's MaxNbProcessors */
  budget: number;
  /** GPUs free now, and this worker's GPU pool (how many ids); default none */
  freeGpus?: number;
  gpus?: number;
  /** memory free now and this worker's memory pool, MB; default unbounded */
  freeMemoryMb?: number;
  memoryMb?: number;
}

export type QueueCounts = Record<'active' | 'waiting' | 'prioritized' | 'delayed' | 'failed' | 'completed', number>;

/** A BullMQ Queue, or how to open one when first needed (adding jobs needs none: bullmq-add.ts). */
export type QueueSource = Queue | (() => Queue | Promise<Queue>);

export class JobStore extends QueueIndex {
  private opened: Queue | Promise<Queue> | undefined;

  constructor(
    redis: StoreRedis,
    private readonly queueSource: QueueSource,
    private readonly keepDone: number,
  ) {
    super(redis);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** The queue's BullMQ keys (for the event stream a worker watches). */
  get eventStream(): string {
    return bullKey(bullKeys, 'events');
  }

  /** The BullMQ Queue, opened on first use. */
  private async queue(): Promise<Queue> {
    this.opened ??= typeof this.queueSource === 'function' ? this.queueSource() : this.queueSource;
    return this.opened;
  }

  async close(): Promise<void> {
    if (!this.connected || this.opened === undefined) return;
    await Promise.resolve(this.opened).then((queue) => queue.close()).catch(() => undefined);
  }

  // --- the queue ---------------------------------------------------------------

  /**
   * Adds a job unless one of that name is queued already; its id, or
   * undefined when the name was taken. The BullMQ job is added first and the
   * name claimed after (one script): should this process die in between, the
   * job is in BullMQ without its name, and a second one queued for the folder
   * later finds the folder taken by whichever claims it first. `aside`: the
   * job waits (delayed) `delayMs`, or until job `until` ends if sooner.
   */
  async enqueue(job: QueuedJob, aside?: { until?: string; delayMs: number }): Promise<string | undefined> {
    if (!aside) return (await this.enqueueMany([job]))[0];
    const id = newJobId();
    if (aside.until) await this.redis.sadd(keys.dependents(aside.until), id);
    const [holder] = await this.addAndClaim([{ id, job, delayMs: aside.delayMs }]);
    if (holder === id) return id;
    if (aside.until) await this.redis.srem(keys.dependents(aside.until), id);
    return undefined;
  }

  /** Jobs to run as soon as they can, in this order, in two round trips: the id of each, undefined for those whose name was taken. */
  async enqueueMany(jobs: QueuedJob[]): Promise<Array<string | undefined>> {
    const ids: Array<string | undefined> = [];
    for (let i = 0; i < jobs.length; i += CHUNK) {
      const added = jobs.slice(i, i + CHUNK).map((job) => ({ id: newJobId(), job }));
      const holders = await this.addAndClaim(added);
      ids.push(...added.map(({ id }, k) => (holders[k] === id ? id : undefined)));
    }
    return ids;
  }

  /** Adds the jobs to BullMQ, then claims their names (see CLAIM_NAMES_SCRIPT); a job whose name was taken is removed again. */
  private async addAndClaim(added: Array<{ id: string; job: QueuedJob; delayMs?: number }>): Promise<string[]> {
    await addJobs(this.redis, bullKeys, added.map(({ id, job, delayMs }) => ({ id, name: job.name, data: job, priority: bullPriority(job.priority), delayMs, keep: this.keepDone })));
    const pairs = added.flatMap(({ id, job }) => [job.name, id]);
    const holders = (await this.evalScript(CLAIM_NAMES_SCRIPT, 1, keys.names, bullKey(bullKeys, ''), ...pairs)) as string[];
    for (const [k, { id }] of added.entries()) if (holders[k] !== id) await this.queue().then((queue) => queue.remove(id)).catch(() => undefined);
    return holders;
  }

  /**
   * Queues the tasks of an array at once (one BullMQ bulk add, their names in
   * one write per thousand), with the array's entry and its count of tasks
   * not started. The array's own name points at its id while its template
   * folder is queued.
   */
  async enqueueTasks(array: ArrayInfo, tasks: QueuedJob[], left: number): Promise<void> {
    await this.redis.multi().hset(keys.arrays, array.name, JSON.stringify(array)).hset(keys.arrayLeft, array.id, left)
      .hset(keys.names, array.name, array.id).exec();
    const ids = tasks.map(() => newJobId());
    for (let i = 0; i < tasks.length; i += CHUNK) {
      const slice = tasks.slice(i, i + CHUNK);
      await addJobs(this.redis, bullKeys, slice.map((job, j) => ({ id: ids[i + j]!, name: job.name, data: job, priority: bullPriority(job.priority), keep: this.keepDone, delayMs: delayBeforePick(job) || undefined })));
      await this.redis.hset(keys.names, ...slice.flatMap((job, j) => [job.name, ids[i + j]!]));
    }
  }

  /** The name of the job with QM id `id` (running, done or queued), if any. */
  async nameOfId(id: string): Promise<string | undefined> {
    if (!/^[0-9a-z]+-[0-9a-f]{8}$/.test(id)) return undefined;
    return (await this.runningInfo(id))?.name ?? (await this.records([id]))[0]?.name ?? (await this.job(id))?.data.name;
  }

  /** Hands back the jobs put aside until job `name` ended or started, to be checked again. */
  async wakeDependents(name: string): Promise<void> {
    const [[, ids]] = ((await this.redis.multi().smembers(keys.dependents(name)).del(keys.dependents(name)).exec()) ?? []) as [[unknown, string[]]];
    for (const id of ids ?? []) await (await this.job(id))?.promote().catch(() => undefined);
  }

  /** A queued job held until `until` (ms) with its new data (see HOLD_SCRIPT); false when it was not queued. */
  async holdQueued(id: string, data: QueuedJob, until: number): Promise<boolean> {
    const held = await this.evalScript(HOLD_SCRIPT, 5, ...holdKeys(bullKeys, id), id, JSON.stringify(data), until, Date.now());
    return Number(held) === 1;
  }

  /** BullMQ's queue pause: the pick starts nothing while it is set. */
  async pause(): Promise<void> {
    await (await this.queue()).pause();
  }

  async resume(): Promise<void> {
    await (await this.queue()).resume();
  }

  /** Which queued job a worker starts next, taken in one script (see bullmq-internals.ts). */
  async pick(req: PickRequest): Promise<Pick> {
    const keyList = [...pickBullKeys(bullKeys), keys.workers, keys.running];
    const args = [
      bullKey(bullKeys, ''), keys.worker(''), req.token, req.lockMs, req.worker,
      req.free, req.budget, PICK_SCAN_LIMIT, Date.now(), req.freeGpus ?? 0, req.gpus ?? 0,
      req.freeMemoryMb ?? Number.MAX_SAFE_INTEGER, req.memoryMb ?? Number.MAX_SAFE_INTEGER, keys.arrayActive(''),
    ];
    const reply = (await this.evalScript(PICK_SCRIPT, keyList.length, ...keyList, ...args)) as PickReply;
    const queue = await this.queue();
    const jobOf = (id: string, flat: string[]) => jobFromHash<QueuedJob>(queue, hashOf(flat), id);
    switch (reply[0]) {
      case 1: {
        const job = jobOf(reply[1], reply[3]);
        return job ? { kind: 'taken', id: reply[1], job, nbProc: reply[2] } : { kind: 'none', nextDelayedAt: undefined, lastEventId: '0-0' };
      }
      case 3: {
        const job = jobOf(reply[1], reply[2]);
        return job ? { kind: 'recover', id: reply[1], job } : { kind: 'none', nextDelayedAt: undefined, lastEventId: '0-0' };
      }
      case 2:
        return { kind: 'waiting', id: reply[1], nbProc: reply[2], name: reply[3], lastEventId: reply[4] };
      default:
        return { kind: 'none', nextDelayedAt: reply[1] || undefined, lastEventId: reply[2] };
    }
  }

  /** A queued (waiting, prioritized or delayed) job made active under `token`; undefined when it was not queued. */
  async takeQueued(id: string, token: string, lockMs: number): Promise<Job<QueuedJob> | undefined> {
    const taken = await this.evalScript(TAKE_QUEUED_SCRIPT, 6, ...takeQueuedKeys(bullKeys, id), id, token, lockMs, Date.now());
    return Number(taken) === 1 ? this.job(id) : undefined;
  }

  /** The folder of a queued job disappeared: out of the queue, then its name (a name never names a job gone). */
  async dropQueued(name: string): Promise<string | undefined> {
    const id = await this.redis.hget(keys.names, name);
    if (!id) return undefined;
    // active (a worker, or a cancel, holds it): whoever holds it settles it; finished: it stays for Bull Board
    if (!(await this.job(id))?.finishedOn) await this.queue().then((queue) => queue.remove(id)).catch(() => undefined);
    await this.forgetName(name, id);
    return id;
  }

  /** Removes a BullMQ job that is not active (a deleted job). */
  async removeJob(id: string): Promise<void> {
    await this.queue().then((queue) => queue.remove(id)).catch(() => undefined);
  }

  /** Job `id` waits (delayed in BullMQ) until job `name` has ended. */
  async addDependent(name: string, id: string): Promise<void> {
    await this.redis.sadd(keys.dependents(name), id);
  }

  // --- running and done ----------------------------------------------------------

  /** The job is running; the jobs waiting for it to start (`after`) are woken. */
  async markRunning(info: RunningInfo): Promise<void> {
    const dependents = (await this.evalScript(START_SCRIPT, 3, keys.running, keys.names, keys.dependents(info.name), info.id, JSON.stringify(info), info.name)) as string[];
    for (const id of dependents) await (await this.job(id))?.promote().catch(() => undefined);
  }

  /**
   * Writes the done record of a job that ended (see FINISH_SCRIPT) and hands
   * back the jobs put aside until it ended, to be checked again.
   */
  async recordEnd(rec: DoneRecord): Promise<void> {
    const dependents = await this.finish(rec);
    await this.replicated(rec);
    for (const id of dependents) {
      // no longer delayed (already woken, removed): nothing to do
      await (await this.job(id))?.promote().catch(() => undefined);
    }
  }

  private async finish(rec: DoneRecord): Promise<string[]> {
    const found = foundRecordId(rec.folder.split('/').pop() ?? '');
    return (await this.evalScript(
      FINISH_SCRIPT, 9,
      keys.record(rec.id), keys.done, keys.doneByName, keys.running, keys.names, keys.dependents(rec.name), keys.record(found), keys.finished,
      keys.dependents(rec.array?.name ?? rec.name),
      rec.id, JSON.stringify(rec), rec.endedAt, rec.name, this.keepDone, found, keys.record(''), rec.outcome.kind,
    )) as string[];
  }

  /**
   * Under Sentinel, a record counts once a replica holds it too: a write the
   * primary acknowledged but had not passed on is lost when it fails over
   * (replication is asynchronous), so it is written again where it is missing.
   */
  private async replicated(rec: DoneRecord): Promise<void> {
    if (!this.redis.options.sentinels) return;
    for (let attempt = 0; attempt < 3; attempt++) {
      const replicas = Number(await this.redis.call('WAIT', 1, 1000).catch(() => 0));
      if (replicas >= 1) return;
      if ((await this.redis.exists(keys.record(rec.id)).catch(() => 1)) === 0) await this.finish(rec);
    }
  }

  // --- reads -------------------------------------------------------------------

  async job(id: string): Promise<Job<QueuedJob> | undefined> {
    return (await (await this.queue()).getJob(id)) as Job<QueuedJob> | undefined;
  }

  /** BullMQ's jobs of one state, in its order (`end` -1: all). */
  async jobsIn(type: JobType, start: number, end: number): Promise<Job<QueuedJob>[]> {
    const jobs = await (await this.queue()).getJobs([type], start, end, true);
    return jobs.filter((j): j is Job<QueuedJob> => Boolean(j?.data?.name));
  }

  async counts(): Promise<QueueCounts> {
    const c = await (await this.queue()).getJobCounts('active', 'waiting', 'prioritized', 'delayed', 'failed', 'completed');
    return { active: c.active ?? 0, waiting: c.waiting ?? 0, prioritized: c.prioritized ?? 0, delayed: c.delayed ?? 0, failed: c.failed ?? 0, completed: c.completed ?? 0 };
  }

  async isPaused(): Promise<boolean> {
    return (await this.queue()).isPaused();
  }
}
