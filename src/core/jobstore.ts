/**
 * QM's records in Redis, beside the BullMQ queue; the one place that changes
 * them. The filesystem stays the truth: all of this can be rebuilt from the
 * folders (ingest re-enqueues QM_qJobs).
 * 1. enqueue: name index (one queued job per name) + BullMQ job.
 * 2. claimed / running / finished: the running table and done records.
 * 3. reads for status, the monitor and dependencies.
 * 4. dependents: jobs put aside until a job finishes are woken when it does.
 */
import type { Redis } from 'ioredis';
import type { Job, Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { bullPriority, keys } from './redis.js';
import { foundRecordId, type DoneRecord, type QueuedJob, type RunningInfo } from './status.js';

const LIVE_STATES = new Set(['waiting', 'prioritized', 'delayed', 'active', 'waiting-children']);

/** Deletes the name entry only if it still points at `id` (a newer drop keeps its own). */
const DELETE_IF_EQUAL = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

/**
 * Puts a running job back in the running table unless it is there, or over
 * (its done record exists), or declared lost for this worker instance (then
 * returns -1): after a wipe, a live worker's jobs reappear; a worker that was
 * unreachable learns which of its jobs others have moved on.
 * KEYS[1] running hash, KEYS[2] the job's done record, KEYS[3] its lost mark;
 * ARGV[1] id, ARGV[2] RunningInfo JSON, ARGV[3] the worker instance.
 */
const REASSERT_RUNNING = `
if redis.call('GET', KEYS[3]) == ARGV[3] then
  return -1
end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])`;

/** How long a lost mark is kept: longer than any outage a worker comes back from. */
const LOST_MARK_S = 7 * 24 * 3600;

export function newJobId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export class JobStore {
  constructor(
    readonly redis: Redis,
    readonly queue: Queue,
    private readonly keepDone: number,
  ) {}

  /**
   * Puts a job in the queue unless one of that name is already queued.
   * Returns the id, or undefined when it was already there. `aside`: the job
   * waits (BullMQ delayed) until job `until` finishes, or `delayMs` at most.
   */
  async enqueue(job: QueuedJob, aside?: { until: string; delayMs: number }): Promise<string | undefined> {
    const id = newJobId();
    if (!(await this.redis.hsetnx(keys.names, job.name, id))) {
      const existing = await this.redis.hget(keys.names, job.name);
      if (existing && (await this.isLive(existing))) return undefined;
      await this.redis.hset(keys.names, job.name, id);
    }
    if (aside) await this.addDependent(aside.until, id);
    await this.queue.add(job.name, job, {
      jobId: id,
      priority: bullPriority(job.priority),
      delay: aside?.delayMs,
      removeOnComplete: { count: this.keepDone },
      removeOnFail: { count: this.keepDone },
    });
    return id;
  }

  private async isLive(id: string): Promise<boolean> {
    const state = await this.queue.getJobState(id);
    return LIVE_STATES.has(state);
  }

  /** name → id of every queued job (as the name index knows them). */
  async queuedNames(): Promise<Map<string, string>> {
    // a slice at a time: with 10,000 jobs queued, one HGETALL held the caller's
    // event loop for tens of milliseconds (the ingest rescans every 5 s)
    const names = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(keys.names, cursor, 'COUNT', 1000);
      for (let i = 0; i + 1 < flat.length; i += 2) names.set(flat[i]!, flat[i + 1]!);
      cursor = next;
    } while (cursor !== '0');
    return names;
  }

  /** Those of `names` that are in the queue already (a live job holds the name). */
  async liveQueued(names: string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const ids = await this.redis.hmget(keys.names, ...names);
    const live = new Set<string>();
    for (const [i, id] of ids.entries()) if (id && (await this.isLive(id))) live.add(names[i]!);
    return live;
  }

  /** The folder of a queued job disappeared: take it out of the queue. */
  async dropQueued(name: string): Promise<string | undefined> {
    const id = await this.redis.hget(keys.names, name);
    if (!id) return undefined;
    // out of BullMQ first: a name no longer queued never names a job still there
    try {
      await this.queue.remove(id);
    } catch {
      // active (a worker holds it): its claim will find no folder and drop it
    }
    await this.forgetName(name, id);
    return id;
  }

  /** The job `id` is queued again under `name` (it went back from running to waiting). */
  async markQueued(name: string, id: string): Promise<void> {
    await this.redis.hset(keys.names, name, id);
  }

  async forgetName(name: string, id: string): Promise<void> {
    await this.redis.eval(DELETE_IF_EQUAL, 1, keys.names, name, id);
  }

  async markRunning(info: RunningInfo): Promise<void> {
    const multi = this.redis.multi();
    multi.hset(keys.running, info.id, JSON.stringify(info));
    multi.eval(DELETE_IF_EQUAL, 1, keys.names, info.name, info.id);
    await multi.exec();
  }

  /** See REASSERT_RUNNING: how many entries were written again, and the ids declared lost. */
  async reassertRunning(infos: RunningInfo[]): Promise<{ rewritten: number; lost: string[] }> {
    const outcome = { rewritten: 0, lost: [] as string[] };
    if (infos.length === 0) return outcome;
    const multi = this.redis.multi();
    for (const info of infos) {
      multi.eval(REASSERT_RUNNING, 3, keys.running, keys.record(info.id), keys.lostMark(info.id), info.id, JSON.stringify(info), info.instance);
    }
    const results = (await multi.exec()) ?? [];
    results.forEach(([, result], i) => {
      if (Number(result) === -1) outcome.lost.push(infos[i]!.id);
      else outcome.rewritten += Number(result ?? 0);
    });
    return outcome;
  }

  /** Was job `id` declared lost for worker `instance`? Unknown (false) while Redis is unreachable. */
  async isMarkedLost(id: string, instance: string): Promise<boolean> {
    if (this.redis.status !== 'ready') return false;
    return (await this.redis.get(keys.lostMark(id))) === instance;
  }

  /** Job `id` of worker `instance` is being moved on by another process: that worker must leave it. */
  async markLost(id: string, instance: string): Promise<void> {
    await this.redis.set(keys.lostMark(id), instance, 'EX', LOST_MARK_S);
  }

  /** Drops a running entry without a done record (the job went back to the queue, or was never ours). */
  async forgetRunning(id: string): Promise<void> {
    await this.redis.hdel(keys.running, id);
  }

  /** Has this job a done record? */
  async isDone(id: string): Promise<boolean> {
    return (await this.redis.exists(keys.record(id))) === 1;
  }

  /** Only one process at a time moves a lost job: true for the one that got it. */
  async lockLostJob(id: string, holder: string): Promise<boolean> {
    return (await this.redis.set(keys.reapLock(id), holder, 'EX', 60, 'NX')) === 'OK';
  }

  async unlockLostJob(id: string): Promise<void> {
    await this.redis.del(keys.reapLock(id));
  }

  async running(): Promise<RunningInfo[]> {
    const all = await this.redis.hvals(keys.running);
    return all.map((v) => JSON.parse(v) as RunningInfo);
  }

  async runningInfo(id: string): Promise<RunningInfo | undefined> {
    const v = await this.redis.hget(keys.running, id);
    return v ? (JSON.parse(v) as RunningInfo) : undefined;
  }

  /** Writes the done record (the job is over: not queued, not running) and trims to keep_done. */
  async recordDone(rec: DoneRecord): Promise<void> {
    const multi = this.redis.multi();
    // a record read back from its folder meanwhile (Redis wiped while this was waiting to be written) gives way
    const found = foundRecordId(rec.folder.split('/').pop() ?? '');
    multi.del(keys.record(found)).zrem(keys.done, found);
    multi.set(keys.record(rec.id), JSON.stringify(rec));
    multi.zadd(keys.done, rec.endedAt, rec.id);
    multi.hset(keys.doneByName, rec.name, rec.id);
    multi.hdel(keys.running, rec.id);
    multi.eval(DELETE_IF_EQUAL, 1, keys.names, rec.name, rec.id);
    // the jobs put aside until this one finished (then forgotten: they register again if still waiting)
    multi.smembers(keys.dependents(rec.name));
    multi.del(keys.dependents(rec.name));
    multi.zcard(keys.done);
    const results = await multi.exec();
    const count = Number(results?.at(-1)?.[1] ?? 0);
    const dependents = (results?.at(-3)?.[1] ?? []) as string[];
    if (count > this.keepDone) await this.trim(count - this.keepDone);
    await this.wake(dependents);
  }

  /** Job `id` waits (delayed in BullMQ) until job `name` has finished. */
  async addDependent(name: string, id: string): Promise<void> {
    await this.redis.sadd(keys.dependents(name), id);
  }

  /** Jobs put aside for a job that has finished go back to the queue, to be checked again. */
  private async wake(ids: string[]): Promise<void> {
    for (const id of ids) {
      // no longer delayed (already woken, removed): nothing to do
      await (await this.job(id))?.promote().catch(() => undefined);
    }
  }

  private async trim(excess: number): Promise<void> {
    const popped = await this.redis.zpopmin(keys.done, excess);
    const ids = popped.filter((_, i) => i % 2 === 0);
    if (ids.length > 0) await this.redis.del(...ids.map((id) => keys.record(id)));
  }

  /** Newest first. */
  async doneRecords(offset: number, limit: number): Promise<DoneRecord[]> {
    const ids = await this.redis.zrevrange(keys.done, offset, offset + limit - 1);
    return this.records(ids);
  }

  async doneCount(): Promise<number> {
    return this.redis.zcard(keys.done);
  }

  async records(ids: string[]): Promise<DoneRecord[]> {
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => keys.record(id)));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as DoneRecord);
  }

  /** Has QM_dJobs been read for folders without a record, on this Redis? */
  async doneFoldersScanned(): Promise<boolean> {
    return (await this.redis.exists(keys.doneScanned)) === 1;
  }

  /** The folders the done records point at (`QM_dJobs/ENTRY`). */
  async doneFolders(): Promise<Set<string>> {
    const records = await this.records(await this.redis.zrange(keys.done, 0, -1));
    return new Set(records.map((r) => r.folder));
  }

  /** Records of folders found in QM_dJobs (not indexed by name: dependencies read folders), and the mark that they were. */
  async addFoundRecords(recs: DoneRecord[]): Promise<void> {
    const multi = this.redis.multi();
    for (const rec of recs) multi.set(keys.record(rec.id), JSON.stringify(rec)).zadd(keys.done, rec.endedAt, rec.id);
    multi.set(keys.doneScanned, String(Date.now()));
    await multi.exec();
  }

  /** The latest done record of a name (for dependencies and `qm submit --wait`). */
  async lastDone(name: string): Promise<DoneRecord | undefined> {
    const id = await this.redis.hget(keys.doneByName, name);
    if (!id) return undefined;
    return (await this.records([id]))[0];
  }

  /** Forgets a done record (the monitor's delete); its name no longer points at it. */
  async forgetDone(rec: DoneRecord): Promise<void> {
    const multi = this.redis.multi();
    multi.del(keys.record(rec.id));
    multi.zrem(keys.done, rec.id);
    multi.eval(DELETE_IF_EQUAL, 1, keys.doneByName, rec.name, rec.id);
    await multi.exec();
  }

  async job(id: string): Promise<Job<QueuedJob> | undefined> {
    return (await this.queue.getJob(id)) as Job<QueuedJob> | undefined;
  }
}
