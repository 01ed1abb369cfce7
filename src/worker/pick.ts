/**
 * Which queued job a worker starts next (SPEC §3), decided and taken in one
 * Redis script so that two workers never take the same job.
 * 1. The queue is read in BullMQ's order: priority, then FIFO.
 * 2. A job needs its nb_proc processors, lowered to the largest budget of the
 *    live workers only when no live worker could ever fit it (clamping).
 * 3. The first job this worker can start now is taken: made active in BullMQ
 *    under the worker's lock, as BullMQ's own fetch would.
 * 4. A job this worker could run but has no room for yet stops the scan: the
 *    worker starts nothing queued behind it, so a big job is not starved by
 *    small ones. A job larger than this worker's budget is left to the
 *    workers that can run it; smaller jobs behind it may start here.
 * 5. No job is ever held by a worker that cannot start it: a job stays queued
 *    until a worker with room takes it.
 * 6. Does the rest of what BullMQ's fetch does: delayed jobs that are due
 *    rejoin the queue; a paused queue starts nothing. A job BullMQ handed back
 *    while recorded as running (its worker was lost) is taken to be recovered,
 *    whatever its size.
 * It works on BullMQ's own keys; test/worker/pick.test.ts checks that BullMQ
 * then extends, completes and delays the jobs it takes.
 */
import { Job, type JobJson, type MinimalQueue } from 'bullmq';
import type { Redis } from 'ioredis';
import { keys } from '../core/redis.js';

/**
 * KEYS[1] BullMQ wait list       KEYS[2] BullMQ prioritized zset  KEYS[3] BullMQ active list
 * KEYS[4] BullMQ events stream   KEYS[5] BullMQ meta hash         KEYS[6] BullMQ delayed zset
 * KEYS[7] BullMQ priority counter
 * KEYS[8] qm:workers (names of workers that sent a heartbeat)     KEYS[9] qm:running
 * ARGV[1] BullMQ job key prefix  ARGV[2] heartbeat key prefix     ARGV[3] lock token
 * ARGV[4] lock duration (ms)     ARGV[5] worker name              ARGV[6] free processors
 * ARGV[7] the worker's budget    ARGV[8] most jobs looked at      ARGV[9] now (ms)
 * Returns {1, id, need, job hash}: taken to run; {3, id, job hash}: taken to recover (recorded as running);
 * {2, id, need, name, last event id}: this worker waits for room for it;
 * {0, next delayed time (ms) or 0, last event id}: nothing.
 */
const PICK_SCRIPT = `
local call = redis.call
local jobPrefix, beatPrefix, token, lockMs, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local free, budget, limit, now = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

-- the largest budget of the live workers, read from their heartbeats
local largest = budget
for _, name in ipairs(call('SMEMBERS', KEYS[8])) do
  local beat = call('GET', beatPrefix .. name)
  if beat then
    local ok, hb = pcall(cjson.decode, beat)
    local b = ok and type(hb) == 'table' and tonumber(hb.budget)
    if b and b > largest then largest = b end
  else
    call('SREM', KEYS[8], name)
  end
end

-- delayed jobs whose time has come go back to the queue (BullMQ does this when it fetches)
local due = call('ZRANGEBYSCORE', KEYS[6], 0, (now + 1) * 0x1000 - 1, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  local priority = tonumber(call('HGET', jobPrefix .. id, 'priority')) or 0
  if priority > 0 then
    call('ZADD', KEYS[2], priority * 0x100000000 + call('INCR', KEYS[7]) % 0x100000000, id)
  else
    call('LPUSH', KEYS[1], id)
  end
  call('HSET', jobPrefix .. id, 'delay', 0)
  call('XADD', KEYS[4], '*', 'event', 'waiting', 'jobId', id, 'prev', 'delayed')
end
if #due > 0 then call('ZREM', KEYS[6], unpack(due)) end

-- the id of the queue's last event: a worker that waits wakes at the next one
local function lastEvent()
  local last = call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
  return last[1] and last[1][1] or '0-0'
end

-- a paused queue starts nothing
if call('HEXISTS', KEYS[5], 'paused') == 1 then return {0, 0, lastEvent()} end

local function take(id, fromWaitList)
  if fromWaitList then call('LREM', KEYS[1], 1, id) else call('ZREM', KEYS[2], id) end
  call('LPUSH', KEYS[3], id)
  call('SET', jobPrefix .. id .. ':lock', token, 'PX', lockMs)
  call('HSET', jobPrefix .. id, 'processedOn', now, 'pb', worker)
  call('HINCRBY', jobPrefix .. id, 'ats', 1)
  call('XADD', KEYS[4], '*', 'event', 'active', 'jobId', id, 'prev', 'waiting')
  return call('HGETALL', jobPrefix .. id)
end

local function consider(id, fromWaitList)
  -- handed back by BullMQ while recorded as running (its worker was lost): recovered, not run
  if call('HEXISTS', KEYS[9], id) == 1 then
    return {3, id, take(id, fromWaitList)}
  end
  local ok, job = pcall(cjson.decode, call('HGET', jobPrefix .. id, 'data') or '')
  if not ok or type(job) ~= 'table' then job = {} end
  local need = math.min(math.max(tonumber(job.nbProc) or 1, 1), largest)
  if need > budget then return nil end
  if need > free then return {2, id, need, type(job.name) == 'string' and job.name or id, lastEvent()} end
  return {1, id, need, take(id, fromWaitList)}
end

-- considers up to limit jobs in order, read a page at a time: the first job
-- usually decides, and reading the whole limit cost more than the rest of the pick
local function scan(read, fromWaitList)
  local seen, page = 0, 16
  while seen < limit do
    local count = math.min(page, limit - seen)
    local ids = read(seen, count)
    for _, id in ipairs(ids) do
      local result = consider(id, fromWaitList)
      if result then return result end
    end
    if #ids < count then return nil end
    seen, page = seen + count, page * 4
  end
end

-- BullMQ serves its wait list (oldest at the right end) before the prioritized set
local result = scan(function(seen, count)
  local ids = call('LRANGE', KEYS[1], -(seen + count), -(seen + 1))
  local oldestFirst = {}
  for i = #ids, 1, -1 do oldestFirst[#oldestFirst + 1] = ids[i] end
  return oldestFirst
end, true)
if result then return result end
result = scan(function(seen, count) return call('ZRANGE', KEYS[2], seen, seen + count - 1) end, false)
if result then return result end
local nextDelayed = call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
return {0, nextDelayed[2] and math.floor(tonumber(nextDelayed[2]) / 0x1000) or 0, lastEvent()}
`;

/** Jobs looked at per pick: a worker does not see past this many jobs too big for it. */
const SCAN_LIMIT = 1000;

/** A BullMQ Queue's or Worker's `keys`: the script works on its queue's keys. */
export type BullKeys = Record<string, string>;

export type Pick =
  /** made active under the worker's lock, to run with nbProc processors; `job` is its BullMQ hash */
  | { kind: 'taken'; id: string; nbProc: number; job: JobHash }
  /** made active under the worker's lock: recorded as running, its worker was lost */
  | { kind: 'recover'; id: string; job: JobHash }
  /** the first job this worker could run has no room yet: start nothing behind it */
  | { kind: 'waiting'; id: string; name: string; nbProc: number; lastEventId: string }
  /** nothing for this worker; when a delayed job becomes due, if any */
  | { kind: 'none'; nextDelayedAt: number | undefined; lastEventId: string };

export interface PickRequest {
  worker: string;
  token: string;
  lockMs: number;
  /** processors free on this worker now (0 when a blocking worker runs a job) */
  free: number;
  /** this worker's MaxNbProcessors */
  budget: number;
}

/** A BullMQ job's hash, as HGETALL reads it. */
export type JobHash = Record<string, string>;

/**
 * The BullMQ Job of a hash the picker read (what Job.fromId would read again),
 * with the fields QM and BullMQ's completion use; undefined if it vanished.
 */
export function jobFromHash<T>(queue: MinimalQueue, hash: JobHash, id: string): Job<T> | undefined {
  if (hash.data === undefined) return undefined;
  const int = (v: string | undefined) => (v === undefined ? undefined : parseInt(v, 10));
  const json = {
    id,
    name: hash.name ?? '',
    data: hash.data,
    opts: Job.optsFromJSON(hash.opts),
    progress: 0,
    delay: int(hash.delay) ?? 0,
    priority: int(hash.priority) ?? 0,
    timestamp: int(hash.timestamp) ?? 0,
    attemptsStarted: int(hash.ats) ?? 0,
    attemptsMade: int(hash.atm) ?? 0,
    stalledCounter: int(hash.stc) ?? 0,
    processedOn: int(hash.processedOn),
    processedBy: hash.pb,
  };
  return Job.fromJSON(queue, json as unknown as JobJson, id) as Job<T>;
}

type PickReply =
  | [0, number, string]
  | [1, string, number, string[]]
  | [2, string, number, string, string]
  | [3, string, string[]];

function hashOf(flat: string[]): JobHash {
  const hash: JobHash = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return hash;
}

export class JobPicker {
  private sha: string | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly bull: BullKeys,
  ) {}

  async pick(req: PickRequest): Promise<Pick> {
    const bull = (type: string) => {
      const key = this.bull[type];
      if (key === undefined) throw new Error(`BullMQ has no ${type} key`);
      return key;
    };
    const keyList = [
      ...['wait', 'prioritized', 'active', 'events', 'meta', 'delayed', 'pc'].map(bull),
      keys.workers,
      keys.running,
    ];
    const args = [
      bull(''), keys.worker(''), req.token, req.lockMs, req.worker,
      req.free, req.budget, SCAN_LIMIT, Date.now(),
    ];
    const reply = (await this.run(keyList, args)) as PickReply;
    switch (reply[0]) {
      case 1:
        return { kind: 'taken', id: reply[1], nbProc: reply[2], job: hashOf(reply[3]) };
      case 2:
        return { kind: 'waiting', id: reply[1], nbProc: reply[2], name: reply[3], lastEventId: reply[4] };
      case 3:
        return { kind: 'recover', id: reply[1], job: hashOf(reply[2]) };
      default:
        return { kind: 'none', nextDelayedAt: reply[1] || undefined, lastEventId: reply[2] };
    }
  }

  /** EVALSHA, loading the script on first use and after a Redis restart. */
  private async run(keyList: string[], args: Array<string | number>): Promise<unknown> {
    this.sha ??= (await this.redis.script('LOAD', PICK_SCRIPT)) as string;
    try {
      return await this.redis.evalsha(this.sha, keyList.length, ...keyList, ...args);
    } catch (err) {
      if (!(err as Error).message.includes('NOSCRIPT')) throw err;
      this.sha = (await this.redis.script('LOAD', PICK_SCRIPT)) as string;
      return this.redis.evalsha(this.sha, keyList.length, ...keyList, ...args);
    }
  }
}
