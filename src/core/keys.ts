/**
 * The names of the Redis keys: BullMQ's queue (as a Queue opened by
 * redis.ts's openQueue names them) and QM's own keys beside it. Known without
 * loading a Redis client.
 */
import { bullQueueKeys } from './bullmq-add.js';

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
