/**
 * The Redis commands the job store (jobstore.ts, bullmq-add.ts) sends, as
 * ioredis types them: an ioredis connection is one, and so is the light
 * client of the short commands (lite-redis.ts), which does not load ioredis.
 * A command the store starts using is added here, and to the light client.
 */

type Arg = string | number;
/** a script's keys and arguments (BullMQ packs some of them) */
type ScriptArg = string | number | Buffer;

/** A pipeline or a MULTI: the commands queued, sent at exec. */
export interface StoreBatch {
  hset(key: string, field: string, value: Arg): StoreBatch;
  hset(key: string, values: Record<string, Arg>): StoreBatch;
  smembers(key: string): StoreBatch;
  del(key: string): StoreBatch;
  eval(script: string, numKeys: number, ...keysAndArgs: Arg[]): StoreBatch;
  evalsha(sha: string, numKeys: number, ...keysAndArgs: ScriptArg[]): StoreBatch;
  set(key: string, value: Arg, ex: 'EX', seconds: number): StoreBatch;
  sadd(key: string, member: string): StoreBatch;
  srem(key: string, member: string): StoreBatch;
  get(key: string): StoreBatch;
  pttl(key: string): StoreBatch;
  exists(key: string): StoreBatch;
  hexists(key: string, field: string): StoreBatch;
  zcard(key: string): StoreBatch;
  zrange(key: string, start: number, stop: number): StoreBatch;
  /** each command's error or result; null when a MULTI was aborted */
  exec(): Promise<Array<[error: Error | null, result: unknown]> | null>;
}

export interface StoreRedis {
  /** 'ready' while connected */
  readonly status: string;
  readonly options: { sentinels?: unknown };
  on(event: 'ready' | 'close', listener: () => void): unknown;
  call(command: string, ...args: Arg[]): Promise<unknown>;
  ping(): Promise<string>;
  get(key: string): Promise<string | null>;
  set(key: string, value: Arg, ex: 'EX', seconds: number): Promise<'OK'>;
  set(key: string, value: Arg, ex: 'EX', seconds: number, nx: 'NX'): Promise<'OK' | null>;
  mget(...keys: string[]): Promise<Array<string | null>>;
  del(key: string): Promise<number>;
  exists(key: string): Promise<number>;
  publish(channel: string, message: string): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  hset(key: string, ...fieldsAndValues: Arg[]): Promise<number>;
  hdel(key: string, field: string): Promise<number>;
  hexists(key: string, field: string): Promise<number>;
  hincrby(key: string, field: string, increment: number): Promise<number>;
  hgetall(key: string): Promise<Record<string, string>>;
  hvals(key: string): Promise<string[]>;
  hscan(key: string, cursor: string, countToken: 'COUNT', count: number): Promise<[cursor: string, elements: string[]]>;
  sadd(key: string, member: string): Promise<number>;
  srem(key: string, member: string): Promise<number>;
  smembers(key: string): Promise<string[]>;
  zcard(key: string): Promise<number>;
  zrevrange(key: string, start: number, stop: number): Promise<string[]>;
  zrangebyscore(key: string, min: number | string, max: number | string): Promise<string[]>;
  zrangebyscore(key: string, min: number | string, max: number | string, withScores: 'WITHSCORES'): Promise<string[]>;
  script(subcommand: 'LOAD', script: string): Promise<unknown>;
  eval(script: string, numKeys: number, ...keysAndArgs: Arg[]): Promise<unknown>;
  evalsha(sha: string, numKeys: number, ...keysAndArgs: Arg[]): Promise<unknown>;
  multi(): StoreBatch;
  pipeline(): StoreBatch;
}
