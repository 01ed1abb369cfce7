/**
 * The Redis scripts of QM's own keys (JobStore runs them): one script per
 * step that changes more than one key, so that a step is all or nothing.
 * (The scripts that touch BullMQ's keys are in bullmq-internals.ts.)
 */

/**
 * A job starts: it is running, and no longer queued under its name; the jobs
 * put aside until it started (`after`) are handed back, in the same round trip.
 * KEYS[1] qm:running  KEYS[2] qm:names  KEYS[3] qm:after:NAME (its dependents)
 * ARGV[1] id  ARGV[2] RunningInfo JSON  ARGV[3] name
 * Returns the ids of its dependents.
 */
export const START_SCRIPT = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
local dependents = redis.call('SMEMBERS', KEYS[3])
if #dependents > 0 then redis.call('DEL', KEYS[3]) end
return dependents`;

/**
 * A job has ended (any outcome): its record is written and indexed, it is no
 * longer running nor queued, the finished counter counts it, the records are
 * trimmed to keep_done, and the jobs put aside until it ended are handed back.
 * A record read back from its folder meanwhile (Redis wiped while this waited
 * to be written) gives way.
 * KEYS[1] its record  KEYS[2] qm:done  KEYS[3] qm:done:names  KEYS[4] qm:running
 * KEYS[5] qm:names  KEYS[6] qm:after:NAME (its dependents)  KEYS[7] the found record of its folder
 * KEYS[8] qm:finished  KEYS[9] qm:after:ARRAY for a task (`after ARRAY` is checked again at each
 * task's end), else KEYS[6] again
 * ARGV[1] id  ARGV[2] DoneRecord JSON  ARGV[3] end time (ms)  ARGV[4] name  ARGV[5] keep_done
 * ARGV[6] the found record's id  ARGV[7] record key prefix  ARGV[8] outcome kind
 * Returns the ids of its dependents.
 */
export const FINISH_SCRIPT = `
local call, id, name = redis.call, ARGV[1], ARGV[4]
call('DEL', KEYS[7])
call('ZREM', KEYS[2], ARGV[6])
call('SET', KEYS[1], ARGV[2])
call('ZADD', KEYS[2], ARGV[3], id)
call('HSET', KEYS[3], name, id)
call('HDEL', KEYS[4], id)
if call('HGET', KEYS[5], name) == id then call('HDEL', KEYS[5], name) end
call('HINCRBY', KEYS[8], ARGV[8], 1)
local dependents = call('SMEMBERS', KEYS[6])
call('DEL', KEYS[6])
if KEYS[9] ~= KEYS[6] then
  for _, dependent in ipairs(call('SMEMBERS', KEYS[9])) do dependents[#dependents + 1] = dependent end
  call('DEL', KEYS[9])
end
local excess = call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if excess > 0 then
  local popped = call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #popped, 2 do call('DEL', ARGV[7] .. popped[i]) end
end
return dependents`;

/**
 * A done record is forgotten (the monitor's delete): its name no longer points at it.
 * KEYS[1] its record  KEYS[2] qm:done  KEYS[3] qm:done:names
 * ARGV[1] id  ARGV[2] name
 */
export const FORGET_DONE_SCRIPT = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[3], ARGV[2]) end
return 1`;

/**
 * Deletes a hash field only if it still holds ARGV[2] (a newer job of that name keeps its own).
 * KEYS[1] the hash  ARGV[1] field  ARGV[2] value
 */
export const DELETE_IF_EQUAL_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

/**
 * Puts a running job back in the running table unless it is there, or over
 * (its done record exists), or declared lost for this worker instance (then
 * returns -1): after a wipe, a live worker's jobs reappear; a worker that was
 * unreachable learns which of its jobs others have moved on.
 * KEYS[1] qm:running  KEYS[2] the job's done record  KEYS[3] its lost mark
 * ARGV[1] id  ARGV[2] RunningInfo JSON  ARGV[3] the worker instance
 */
export const REASSERT_RUNNING_SCRIPT = `
if redis.call('GET', KEYS[3]) == ARGV[3] then
  return -1
end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])`;

/**
 * Records of folders found in QM_dJobs, and the mark that QM_dJobs was read.
 * KEYS[1] qm:done  KEYS[2] qm:done:scanned
 * ARGV[1] record key prefix  ARGV[2] now (ms), or '' when more records follow  ARGV[3..] id, end time, JSON, repeated
 */
export const ADD_FOUND_SCRIPT = `
for i = 3, #ARGV, 3 do
  redis.call('SET', ARGV[1] .. ARGV[i], ARGV[i + 2])
  redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
end
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2]) end
return 1`;

/**
 * The ingest lease (one active ingest): taken when free, held by ARGV[1], or
 * held by ARGV[3] (a holder known dead); then (re)set to ARGV[1] for ARGV[2]
 * ms. Returns the holder after the call: ARGV[1] when this one has it.
 * KEYS[1] qm:ingest:lease
 * ARGV[1] the caller's lease JSON  ARGV[2] time to live (ms)  ARGV[3] a dead holder's JSON, or ''
 */
export const TAKE_LEASE_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] or (ARGV[3] ~= '' and holder == ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return holder`;

/**
 * Deletes a key only if it still holds ARGV[1] (a lease given back by its holder).
 * KEYS[1] the key  ARGV[1] value
 */
export const DELETE_KEY_IF_EQUAL_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * A secret shared by every process on this Redis: the one there, else
 * ARGV[1] becomes it.
 * KEYS[1] the secret's key  ARGV[1] this process's candidate
 */
export const SHARED_SECRET_SCRIPT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])`;

/**
 * The active ingest's list of settling folders, changed only by the lease's
 * holder (an ingest cut off and replaced writes nothing over its successor's).
 * KEYS[1] qm:ingest:lease  KEYS[2] qm:ingest:settling  KEYS[3] qm:ingest:settling:by
 * ARGV[1] the writer's lease JSON  ARGV[2] '1': start the list anew  ARGV[3] '1':
 * the list is whole once this is done (KEYS[3] = the lease)  ARGV[4] n, then n
 * names that left it, then the names that joined it.
 * Returns 1, or 0 when the writer does not hold the lease (nothing written).
 */
export const SETTLING_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '1' then redis.call('DEL', KEYS[2], KEYS[3]) end
local gone = tonumber(ARGV[4])
for i = 5, 4 + gone do redis.call('ZREM', KEYS[2], ARGV[i]) end
for i = 5 + gone, #ARGV do redis.call('ZADD', KEYS[2], 0, ARGV[i]) end
if ARGV[3] == '1' then redis.call('SET', KEYS[3], ARGV[1]) end
return 1`;

/**
 * The name index claims of jobs just added to BullMQ: one queued job per
 * name. A name goes to its new job unless it names a job BullMQ still holds
 * unfinished (its hash exists without `finishedOn`).
 * KEYS[1] qm:names
 * ARGV[1] BullMQ job key prefix, then name, new job's id pairs
 * Returns, for each pair, the id the name now names: the new job's when claimed, the holder's otherwise.
 */
export const CLAIM_NAMES_SCRIPT = `
local call = redis.call
local holders = {}
for i = 2, #ARGV, 2 do
  local name, id = ARGV[i], ARGV[i + 1]
  local holder = call('HGET', KEYS[1], name)
  local key = holder and holder ~= id and (ARGV[1] .. holder)
  if key and call('EXISTS', key) == 1 and call('HEXISTS', key, 'finishedOn') == 0 then
    holders[#holders + 1] = holder
  else
    call('HSET', KEYS[1], name, id)
    holders[#holders + 1] = id
  end
end
return holders`;
