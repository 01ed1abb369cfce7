/**
 * Everything QM knows of BullMQ's insides (SPEC §12), in one place, for the
 * one BullMQ version it was tested with:
 * 1. refuses, in one line, a BullMQ of another version;
 * 2. the priority encoding, the delayed-score encoding, the job hash fields
 *    (`pb`, `ats`, `finishedOn`...), the event stream's entries;
 * 3. the Redis scripts that work on BullMQ's keys: the pick (which job a
 *    worker starts next, taken as BullMQ's own fetch would take it), taking a
 *    queued job to end it unrun, holding a queued job (BullMQ's delayed set,
 *    far in the future), and the name claim of a new job;
 * 4. adding a job without loading BullMQ's classes: bullmq-add.ts.
 * The rest of QM uses BullMQ's public API (Queue, Worker, Job) only.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { JobJson, MinimalQueue } from 'bullmq';

const load = createRequire(import.meta.url);
type Classes = { Queue: typeof import('bullmq').Queue; Job: typeof import('bullmq').Job };
let classes: Classes | undefined;
/**
 * BullMQ's Queue and Job, loaded on first use (adding a job needs neither):
 * their own files, not BullMQ's index, which loads every class it has.
 */
export function bullmqClasses(): Classes {
  classes ??= {
    Queue: (load('bullmq/dist/cjs/classes/queue.js') as Pick<Classes, 'Queue'>).Queue,
    Job: (load('bullmq/dist/cjs/classes/job.js') as Pick<Classes, 'Job'>).Job,
  };
  return classes;
}
export type Queue<T = unknown> = import('bullmq').Queue<T>;
export type Job<T = unknown> = import('bullmq').Job<T>;

/** The BullMQ version these scripts were written for and tested with (package.json pins it). */
export const TESTED_BULLMQ_VERSION = '6.7.0';

export class BullmqVersionError extends Error {}

/** Throws a one-line BullmqVersionError when the installed BullMQ is not the tested one. */
export function checkBullmqVersion(installed = installedBullmqVersion()): void {
  if (installed !== TESTED_BULLMQ_VERSION) {
    throw new BullmqVersionError(
      `BullMQ ${installed} is installed, but this QM was tested with BullMQ ${TESTED_BULLMQ_VERSION} only (it works on BullMQ's own keys): run "npm ci"`,
    );
  }
}

/**
 * Read as a file, found as an import of it would be: loading it with require
 * took a short command 2 ms (the tests' module runner has no
 * import.meta.resolve: require's resolution there).
 */
function installedBullmqVersion(): string {
  const file = typeof import.meta.resolve === 'function' ? new URL(import.meta.resolve('bullmq/package.json')) : load.resolve('bullmq/package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: string };
  return pkg.version ?? 'of unknown version';
}

/**
 * QM priority (higher first, any integer) → BullMQ priority (1 is first,
 * 2,097,151 is the largest BullMQ takes). 0 maps to the middle.
 */
export function bullPriority(priority: number): number {
  const middle = 1_048_576;
  return Math.min(2_097_151, Math.max(1, middle - Math.round(priority)));
}

/** A BullMQ Queue's or Worker's `keys`: the scripts work on its queue's keys. */
export type BullKeys = Record<string, string>;

/** A BullMQ job's hash, as HGETALL reads it. */
export type JobHash = Record<string, string>;

export function bullKey(bull: BullKeys, type: string): string {
  const key = bull[type];
  if (key === undefined) throw new Error(`BullMQ has no ${type} key`);
  return key;
}

/**
 * The BullMQ Job of a hash a script read (what Job.fromId would read again),
 * with the fields QM and BullMQ's completion use; undefined if it vanished.
 */
export function jobFromHash<T>(queue: MinimalQueue, hash: JobHash, id: string): Job<T> | undefined {
  if (hash.data === undefined) return undefined;
  const int = (v: string | undefined) => (v === undefined ? undefined : parseInt(v, 10));
  const json = {
    id,
    name: hash.name ?? '',
    data: hash.data,
    opts: bullmqClasses().Job.optsFromJSON(hash.opts),
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
  return bullmqClasses().Job.fromJSON(queue, json as unknown as JobJson, id) as Job<T>;
}

export function hashOf(flat: string[]): JobHash {
  const hash: JobHash = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return hash;
}

/** BullMQ events after which a worker that waited may start a job. */
const EVENTS_THAT_MAY_FREE_A_START = new Set(['added', 'waiting', 'active', 'delayed', 'removed', 'resumed']);

/** Does one of these entries of BullMQ's event stream (XREAD's fields) possibly let a waiting worker start a job? */
export function mayLetAJobStart(entries: Array<[string, string[]]>): boolean {
  return entries.some(([, fields]) => EVENTS_THAT_MAY_FREE_A_START.has(fields[fields.indexOf('event') + 1] ?? ''));
}

// ---------------------------------------------------------------------------
// The pick (SPEC §3): see JobStore.pick for what it decides.

/**
 * KEYS[1] BullMQ wait list       KEYS[2] BullMQ prioritized zset  KEYS[3] BullMQ active list
 * KEYS[4] BullMQ events stream   KEYS[5] BullMQ meta hash         KEYS[6] BullMQ delayed zset
 * KEYS[7] BullMQ priority counter
 * KEYS[8] qm:workers (names of workers that sent a heartbeat)     KEYS[9] qm:running
 * ARGV[1] BullMQ job key prefix  ARGV[2] heartbeat key prefix     ARGV[3] lock token
 * ARGV[4] lock duration (ms)     ARGV[5] worker name              ARGV[6] free processors
 * ARGV[7] the worker's budget    ARGV[8] most jobs looked at      ARGV[9] now (ms)
 * ARGV[10] free GPUs             ARGV[11] the worker's GPUs       ARGV[12] free memory (MB)
 * ARGV[13] the worker's memory (MB)
 * A job fits when its processors, GPUs and memory all do (SPEC §8); its
 * processors are clamped to the largest budget of the live workers that have
 * its GPUs and memory; one that no live worker could hold is passed over.
 * ARGV[14] key prefix of an array's set of held tasks (`%K`: a task of a full array is passed over)
 * Returns {1, id, need, job hash}: taken to run; {3, id, job hash}: taken to recover (recorded as running);
 * {2, id, need, name, last event id}: this worker waits for room for it;
 * {0, next delayed time (ms) or 0, last event id}: nothing.
 */
export const PICK_SCRIPT = `
local call = redis.call
local jobPrefix, beatPrefix, token, lockMs, worker = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local free, budget, limit, now = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local freeGpus, gpus, freeMemory, memory = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local arrayActivePrefix = ARGV[14]

-- the pools of the live workers, read from their heartbeats (this one's from ARGV): {budget, GPUs, memory}
local pools, largest = {{budget, gpus, memory}}, budget
for _, name in ipairs(call('SMEMBERS', KEYS[8])) do
  local beat = call('GET', beatPrefix .. name)
  if not beat then
    call('SREM', KEYS[8], name)
  elseif name ~= worker then
    local ok, hb = pcall(cjson.decode, beat)
    local b = ok and type(hb) == 'table' and tonumber(hb.budget)
    if b then
      pools[#pools + 1] = {b, type(hb.gpus) == 'table' and #hb.gpus or 0, tonumber(hb.memoryMb) or math.huge}
      if b > largest then largest = b end
    end
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

-- %K: the tasks of an array held by workers (active in BullMQ), counted once a pick;
-- a task that left the active list (ended, put back) is no longer counted
local arrayHeld = {}
local function arrayFull(array)
  local limitK = type(array) == 'table' and tonumber(array.limit)
  if not limitK then return false end
  local key = arrayActivePrefix .. tostring(array.id)
  if arrayHeld[key] == nil then
    local n = 0
    for _, member in ipairs(call('SMEMBERS', key)) do
      if call('LPOS', KEYS[3], member) then n = n + 1 else call('SREM', key, member) end
    end
    arrayHeld[key] = n
  end
  return arrayHeld[key] >= limitK, key
end

local function consider(id, fromWaitList)
  -- handed back by BullMQ while recorded as running (its worker was lost): recovered, not run
  if call('HEXISTS', KEYS[9], id) == 1 then
    return {3, id, take(id, fromWaitList)}
  end
  local ok, job = pcall(cjson.decode, call('HGET', jobPrefix .. id, 'data') or '')
  if not ok or type(job) ~= 'table' then job = {} end
  local full, arrayKey = arrayFull(job.array)
  if full then return nil end
  local nbGpu, mem = math.max(tonumber(job.nbGpu) or 0, 0), tonumber(job.memoryMb)
  local cap = largest
  if nbGpu > 0 or (mem and mem > 0) then
    cap = 0
    for _, p in ipairs(pools) do
      if p[2] >= nbGpu and (not mem or p[3] >= mem) and p[1] > cap then cap = p[1] end
    end
    -- no live worker could ever hold it: passed over (read-model.ts says why)
    if cap == 0 then return nil end
  end
  local need = math.min(math.max(tonumber(job.nbProc) or 1, 1), cap)
  if need > budget or nbGpu > gpus or (mem and mem > memory) then return nil end
  local memNeed = (not mem and 0) or (mem == 0 and memory) or mem
  if need > free or nbGpu > freeGpus or memNeed > freeMemory then
    return {2, id, need, type(job.name) == 'string' and job.name or id, lastEvent()}
  end
  if arrayKey then call('SADD', arrayKey, id) end
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

/** The BullMQ keys of PICK_SCRIPT's KEYS[1..7], in order. */
export function pickBullKeys(bull: BullKeys): string[] {
  return ['wait', 'prioritized', 'active', 'events', 'meta', 'delayed', 'pc'].map((type) => bullKey(bull, type));
}

export type PickReply =
  | [0, number, string]
  | [1, string, number, string[]]
  | [2, string, number, string, string]
  | [3, string, string[]];

// ---------------------------------------------------------------------------

/**
 * Makes a queued job active under a lock token, so that BullMQ's own
 * moveToFailed can end it (BullMQ ends only active jobs): a job cancelled
 * before it started is failed, not removed, and shows in Bull Board's Failed tab.
 * KEYS[1] wait list  KEYS[2] prioritized zset  KEYS[3] delayed zset  KEYS[4] active list
 * KEYS[5] events stream  KEYS[6] the job's hash
 * ARGV[1] job id  ARGV[2] lock token  ARGV[3] lock duration (ms)  ARGV[4] now (ms)
 * Returns 1 when taken, 0 when the job was not queued (active, finished or gone).
 */
export const TAKE_QUEUED_SCRIPT = `
local call, id = redis.call, ARGV[1]
local removed = call('LREM', KEYS[1], 0, id) + call('ZREM', KEYS[2], id) + call('ZREM', KEYS[3], id)
if removed == 0 then return 0 end
call('LPUSH', KEYS[4], id)
call('SET', KEYS[6] .. ':lock', ARGV[2], 'PX', ARGV[3])
call('HSET', KEYS[6], 'processedOn', ARGV[4])
call('XADD', KEYS[5], '*', 'event', 'active', 'jobId', id, 'prev', 'waiting')
return 1`;

export function takeQueuedKeys(bull: BullKeys, id: string): string[] {
  return [...['wait', 'prioritized', 'delayed', 'active', 'events'].map((type) => bullKey(bull, type)), bullKey(bull, '') + id];
}

// ---------------------------------------------------------------------------

/**
 * How far ahead a held job is delayed: out of every pick until released. A
 * delayed score is the time (ms) × 0x1000, which Lua's doubles hold exactly
 * up to 2^53: a fixed span, not "forever", keeps it well inside (until 2039).
 */
export const HELD_DELAY_MS = 4 * 365 * 24 * 3600 * 1000;

/** How long a job waits in the delayed set before it may be picked: held, or its begin time ahead; 0: not at all. */
export function delayBeforePick(job: { held?: boolean; beginAt?: number }, now = Date.now()): number {
  return job.held ? HELD_DELAY_MS : job.beginAt !== undefined ? Math.max(0, job.beginAt - now) : 0;
}

/**
 * Holds a queued job: out of the wait list or the prioritized set (or moved
 * within the delayed set) into the delayed set at `until`, with its new data.
 * KEYS[1] wait list  KEYS[2] prioritized zset  KEYS[3] delayed zset  KEYS[4] events stream
 * KEYS[5] the job's hash
 * ARGV[1] job id  ARGV[2] its data (JSON)  ARGV[3] until (ms)  ARGV[4] now (ms)
 * Returns 1 when held, 0 when the job was not queued (active, finished or gone).
 */
export const HOLD_SCRIPT = `
local call, id = redis.call, ARGV[1]
local removed = call('LREM', KEYS[1], 0, id) + call('ZREM', KEYS[2], id) + call('ZREM', KEYS[3], id)
if removed == 0 then return 0 end
local at = tonumber(ARGV[3])
call('HSET', KEYS[5], 'data', ARGV[2], 'delay', at - tonumber(ARGV[4]))
call('ZADD', KEYS[3], at * 0x1000, id)
call('XADD', KEYS[4], '*', 'event', 'delayed', 'jobId', id, 'delay', at)
return 1`;

export function holdKeys(bull: BullKeys, id: string): string[] {
  return [...['wait', 'prioritized', 'delayed', 'events'].map((type) => bullKey(bull, type)), bullKey(bull, '') + id];
}
