/**
 * QM's indexes over the queue in Redis (run-records.ts below, jobstore.ts
 * above): no BullMQ class, only its keys.
 * 1. The name index: the id of the queued job of each name (one queued job
 *    a name), and whether the job it points at is still live.
 * 2. The arrays: each array's entry under its name, and its count of tasks
 *    not started.
 */
import { bullKeys, keys } from './keys.js';
import { bullKey } from './bullmq-internals.js';
import { DELETE_IF_EQUAL_SCRIPT } from './store-scripts.js';
import type { ArrayInfo } from './arrays.js';
import { CHUNK } from './coordination-store.js';
import { RunRecords } from './run-records.js';

export class QueueIndex extends RunRecords {
  // --- the name index ----------------------------------------------------------

  /** The job `id` is queued again under `name` (it went back from running to waiting). */
  async markQueued(name: string, id: string): Promise<void> {
    await this.redis.hset(keys.names, name, id);
  }

  async forgetName(name: string, id: string): Promise<void> {
    await this.evalScript(DELETE_IF_EQUAL_SCRIPT, 1, keys.names, name, id);
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

  /** The ids the name index has for these names, in order (undefined where none). */
  async queuedIds(names: string[]): Promise<Array<string | undefined>> {
    const out: Array<string | undefined> = [];
    for (let i = 0; i < names.length; i += CHUNK) out.push(...(await this.redis.hmget(keys.names, ...names.slice(i, i + CHUNK))).map((id) => id ?? undefined));
    return out;
  }

  /** The id of the queued job of that name, if the name index has one. */
  async queuedId(name: string): Promise<string | undefined> {
    return (await this.redis.hget(keys.names, name)) ?? undefined;
  }

  /** Those of `names` that are in the queue already (a live job holds the name; an array's name while its template is queued): two round trips a thousand names. */
  async liveQueued(names: string[]): Promise<Set<string>> {
    const ids = await this.queuedIds(names);
    const held = names.flatMap((name, i) => (ids[i] ? [{ name, id: ids[i] }] : []));
    const live = new Set<string>();
    for (let c = 0; c < held.length; c += CHUNK) {
      const chunk = held.slice(c, c + CHUNK);
      // what Job.fromId would read, without BullMQ's classes: its hash exists without `finishedOn`
      const multi = this.redis.multi();
      for (const { id } of chunk) multi.exists(bullKey(bullKeys, '') + id).hexists(bullKey(bullKeys, '') + id, 'finishedOn').hexists(keys.arrayLeft, id);
      const replies = ((await multi.exec()) ?? []).map(([, v]) => v);
      chunk.forEach(({ name }, k) => {
        const [exists, finished, arrayLeft] = replies.slice(3 * k, 3 * k + 3);
        if ((exists === 1 && finished === 0) || arrayLeft === 1) live.add(name);
      });
    }
    return live;
  }


  // --- arrays -------------------------------------------------------------------

  /** The array of that name, as last queued. */
  async arrayInfo(name: string): Promise<ArrayInfo | undefined> {
    const raw = await this.redis.hget(keys.arrays, name);
    return raw ? (JSON.parse(raw) as ArrayInfo) : undefined;
  }

  /** Every array Redis knows (the latest of each name). */
  async arrays(): Promise<ArrayInfo[]> {
    return Object.values(await this.redis.hgetall(keys.arrays)).map((raw) => JSON.parse(raw) as ArrayInfo);
  }

  /** One task of array `id` started or was cancelled: how many are left to start. */
  async taskLeftQueue(id: string): Promise<number> {
    return this.redis.hincrby(keys.arrayLeft, id, -1);
  }

  /** The template of array `name` left QM_qJobs: its name no longer names a queued job. */
  async forgetArrayCount(name: string, id: string): Promise<void> {
    await this.redis.hdel(keys.arrayLeft, id);
    await this.forgetName(name, id);
  }
}
