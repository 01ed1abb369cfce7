/**
 * The records of runs in Redis (coordination-store.ts below, jobstore.ts
 * above); the writes that wake waiting jobs (markRunning, recordEnd) are
 * JobStore's, as waking needs the queue.
 * 1. The running table: one entry a running job, written again by its
 *    worker's heartbeat should Redis lose it.
 * 2. The done records: one JSON record a job end, indexed by end time and
 *    by name, trimmed to keep_done; the folders found in QM_dJobs without
 *    one; the finished counter.
 */
import { keys } from './keys.js';
import { ADD_FOUND_SCRIPT, FORGET_DONE_SCRIPT, REASSERT_RUNNING_SCRIPT } from './store-scripts.js';
import type { DoneRecord, RunningInfo } from './status.js';
import { CHUNK, CoordinationStore } from './coordination-store.js';

export class RunRecords extends CoordinationStore {
  // --- running ---------------------------------------------------------------

  /** See REASSERT_RUNNING_SCRIPT: how many entries were written again, and the ids declared lost. */
  async reassertRunning(infos: RunningInfo[]): Promise<{ rewritten: number; lost: string[] }> {
    const outcome = { rewritten: 0, lost: [] as string[] };
    if (infos.length === 0) return outcome;
    const multi = this.redis.multi();
    for (const info of infos) {
      multi.eval(REASSERT_RUNNING_SCRIPT, 3, keys.running, keys.record(info.id), keys.lostMark(info.id), info.id, JSON.stringify(info), info.instance);
    }
    const results = (await multi.exec()) ?? [];
    results.forEach(([, result], i) => {
      if (Number(result) === -1) outcome.lost.push(infos[i]!.id);
      else outcome.rewritten += Number(result ?? 0);
    });
    return outcome;
  }

  /** Drops a running entry without a done record (the job went back to the queue, or was never ours). */
  async forgetRunning(id: string): Promise<void> {
    await this.redis.hdel(keys.running, id);
  }

  async running(): Promise<RunningInfo[]> {
    const all = await this.redis.hvals(keys.running);
    return all.map((v) => JSON.parse(v) as RunningInfo);
  }

  async runningInfo(id: string): Promise<RunningInfo | undefined> {
    const v = await this.redis.hget(keys.running, id);
    return v ? (JSON.parse(v) as RunningInfo) : undefined;
  }

  // --- done ------------------------------------------------------------------

  /** The latest done record of each name, in order (undefined where none). */
  async lastDoneOf(names: string[]): Promise<Array<DoneRecord | undefined>> {
    const out: Array<DoneRecord | undefined> = [];
    for (let i = 0; i < names.length; i += CHUNK) {
      const ids = await this.redis.hmget(keys.doneByName, ...names.slice(i, i + CHUNK));
      const values = await this.redis.mget(...ids.map((id) => keys.record(id ?? '-')));
      out.push(...values.map((v) => (v ? (JSON.parse(v) as DoneRecord) : undefined)));
    }
    return out;
  }

  /**
   * The latest records of `names` that are array `arrayId`'s and point at
   * folder `from` point at `to` instead (tasks ended unrun: the array's
   * folder, moved to QM_dJobs once its last task was cancelled).
   */
  async repointRecords(names: string[], arrayId: string, from: string, to: string): Promise<void> {
    const records = (await this.lastDoneOf(names)).filter((r): r is DoneRecord => r?.array?.id === arrayId && r.folder === from);
    for (let i = 0; i < records.length; i += CHUNK) {
      await this.redis.call('MSET', ...records.slice(i, i + CHUNK).flatMap((r) => [keys.record(r.id), JSON.stringify({ ...r, folder: to })]));
    }
  }

  /** Records of folders found in QM_dJobs (not indexed by name: dependencies read folders), and the mark that they were. */
  async addFoundRecords(recs: DoneRecord[]): Promise<void> {
    for (let i = 0; i === 0 || i < recs.length; i += CHUNK) {
      const chunk = recs.slice(i, i + CHUNK);
      const last = i + CHUNK >= recs.length;
      const args = chunk.flatMap((r) => [r.id, r.endedAt, JSON.stringify(r)]);
      await this.evalScript(ADD_FOUND_SCRIPT, 2, keys.done, keys.doneScanned, keys.record(''), last ? Date.now() : '', ...args);
    }
  }

  /** Forgets a done record (the monitor's delete); its name no longer points at it. */
  async forgetDone(rec: DoneRecord): Promise<void> {
    await this.evalScript(FORGET_DONE_SCRIPT, 3, keys.record(rec.id), keys.done, keys.doneByName, rec.id, rec.name);
  }

  /** Has this job a done record? */
  async isDone(id: string): Promise<boolean> {
    return (await this.redis.exists(keys.record(id))) === 1;
  }

  /** Newest first. */
  async doneRecords(offset: number, limit: number): Promise<DoneRecord[]> {
    return this.records(await this.redis.zrevrange(keys.done, offset, offset + limit - 1));
  }

  async doneCount(): Promise<number> {
    return this.redis.zcard(keys.done);
  }

  /** Done records that ended in [from, to] (ms), oldest first. */
  async doneBetween(from: number | '-inf', to: number | '+inf' = '+inf'): Promise<DoneRecord[]> {
    return this.records(await this.redis.zrangebyscore(keys.done, from, to));
  }

  /** Ids and end times (ms) of the records that ended at or after `from`, oldest first. */
  async doneSince(from: number | '-inf'): Promise<Array<{ id: string; endedAt: number }>> {
    const flat = await this.redis.zrangebyscore(keys.done, from, '+inf', 'WITHSCORES');
    const out: Array<{ id: string; endedAt: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ id: flat[i]!, endedAt: Number(flat[i + 1]) });
    return out;
  }

  async records(ids: string[]): Promise<DoneRecord[]> {
    const out: DoneRecord[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const values = await this.redis.mget(...ids.slice(i, i + CHUNK).map((id) => keys.record(id)));
      for (const v of values) if (v !== null) out.push(JSON.parse(v) as DoneRecord);
    }
    return out;
  }

  /** The latest done record of a name (for dependencies and `qm submit --wait`). */
  async lastDone(name: string): Promise<DoneRecord | undefined> {
    const id = await this.redis.hget(keys.doneByName, name);
    if (!id) return undefined;
    return (await this.records([id]))[0];
  }

  /** Has QM_dJobs been read for folders without a record, on this Redis? */
  async doneFoldersScanned(): Promise<boolean> {
    return (await this.redis.exists(keys.doneScanned)) === 1;
  }

  /** The folders the done records point at (`QM_dJobs/ENTRY`). */
  async doneFolders(): Promise<Set<string>> {
    const records = await this.doneBetween('-inf');
    return new Set(records.map((r) => r.folder));
  }

  /** How many jobs ended, by outcome kind, since this Redis began counting. */
  async finishedCounts(): Promise<Map<string, number>> {
    const flat = await this.redis.hgetall(keys.finished);
    return new Map(Object.entries(flat).map(([kind, n]) => [kind, Number(n)]));
  }
}
