/**
 * The short commands' Redis client (`qm submit`, `qm status`...): the
 * commands of store-redis.ts over one socket, without ioredis (loading ioredis
 * took about as long as all the rest of a `qm submit`).
 * 1. Connects to a redis://, rediss:// or unix:// URL (Sentinel is ioredis's
 *    job: redis.ts), with AUTH, SELECT and the connection's name sent with the
 *    first command; gives up after CONNECT_TIMEOUT_MS.
 * 2. Replies as ioredis gives them: strings, numbers, null, arrays; HGETALL
 *    as an object; a pipeline's or a MULTI's exec as [error, result] pairs.
 * 3. A connection lost is made again for the next command, with the same
 *    few attempts as redis.ts's connectClient; the commands under way when it
 *    was lost fail.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { RedisOptions } from 'ioredis';
import { ReplyError, ReplyParser, encodeCommands, type Arg } from './resp.js';
import type { StoreBatch, StoreRedis } from './store-redis.js';

export { ReplyError } from './resp.js';

const CONNECT_TIMEOUT_MS = 5_000;
/** Waits before the attempts to connect again after a connection was lost (connectClient's retryStrategy). */
const RECONNECT_DELAYS_MS = [200, 400, 600];

/** Where and how to connect: the options redis-url.ts makes of a URL, but for Sentinel's. */
export type LiteOptions = Pick<RedisOptions, 'path' | 'host' | 'port' | 'username' | 'password' | 'db' | 'tls'> & { connectionName?: string };

interface Pending {
  resolve(reply: unknown): void;
  reject(err: Error): void;
}

/** A command as sent: its words, and how its reply is turned into what ioredis would give. */
interface Command {
  args: Arg[];
  convert?: (reply: unknown) => unknown;
}


/** Connects (throws when Redis cannot be reached or refuses the AUTH). */
export async function connectLite(options: LiteOptions): Promise<LiteRedis> {
  const redis = new LiteRedis(options);
  await redis.connect();
  return redis;
}

/** A connection: its socket, and the commands sent on it awaiting their replies, in order. */
interface Connection {
  socket: net.Socket;
  pending: Pending[];
}

export class LiteRedis extends EventEmitter implements StoreRedis {
  status: 'wait' | 'connecting' | 'ready' | 'end' = 'wait';
  readonly options: { sentinels?: undefined } = {};
  private connection: Connection | undefined;
  private connecting: Promise<void> | undefined;
  /** disconnect() was called */
  private ended = false;

  constructor(private readonly where: LiteOptions) {
    super();
  }

  /** Connects now (the first command would otherwise). */
  async connect(): Promise<void> {
    this.connecting ??= this.open().then(
      () => void (this.connecting = undefined),
      (err: unknown) => {
        this.connecting = undefined;
        if (this.status === 'connecting') this.status = 'wait';
        throw err;
      },
    );
    return this.connecting;
  }

  /** Closes the connection for good; commands under way fail. */
  disconnect(): void {
    this.ended = true;
    this.status = 'end';
    this.connection?.socket.destroy();
  }

  private async open(): Promise<void> {
    this.status = 'connecting';
    const connection: Connection = { socket: await openSocket(this.where), pending: [] };
    const { socket, pending } = connection;
    if (this.ended) {
      socket.destroy();
      throw new Error('Connection is closed.');
    }
    this.connection = connection;
    const parser = new ReplyParser((reply) => pending.shift()?.resolve(reply));
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.feed(chunk);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      if (!this.ended) this.status = 'wait';
      for (const p of pending.splice(0)) p.reject(new Error('Connection is closed.'));
      this.emit('close');
    });
    const { username, password, db, connectionName } = this.where;
    const hello: Command[] = [];
    if (password) hello.push({ args: username ? ['AUTH', username, password] : ['AUTH', password] });
    if (db) hello.push({ args: ['SELECT', db] });
    if (connectionName) hello.push({ args: ['CLIENT', 'SETNAME', connectionName] });
    try {
      for (const reply of await this.write(hello, connection)) if (reply instanceof Error) throw reply;
    } catch (err) {
      socket.destroy();
      throw err;
    }
    this.status = 'ready';
    this.emit('ready');
  }

  /** Writes the commands at once; their replies (error replies as values), in order. */
  private write(commands: Command[], { socket, pending }: Connection): Promise<unknown[]> {
    if (commands.length === 0) return Promise.resolve([]);
    const replies = commands.map(
      ({ convert }) =>
        new Promise<unknown>((resolve, reject) =>
          pending.push({ resolve: (reply) => resolve(reply instanceof Error || !convert ? reply : convert(reply)), reject }),
        ),
    );
    socket.write(encodeCommands(commands.map((c) => c.args)));
    return Promise.all(replies);
  }

  /** Sends the commands at once, connecting (again) first if need be. */
  private async send(commands: Command[]): Promise<unknown[]> {
    await this.ready();
    return this.write(commands, this.connection!);
  }

  /** Connected: connecting (again) first if need be, with a few attempts. */
  async ready(): Promise<void> {
    if (this.ended) throw new Error('Connection is closed.');
    if (this.connection && this.status === 'ready') return;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.connect();
      } catch (err) {
        const delay = RECONNECT_DELAYS_MS[attempt];
        if (delay === undefined || this.ended) throw err;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** One command: its reply, or the error Redis answered. */
  private async one<T>(args: Arg[], convert?: (reply: unknown) => unknown): Promise<T> {
    const [reply] = await this.send([{ args, convert }]);
    if (reply instanceof Error) throw reply;
    return reply as T;
  }

  call(command: string, ...args: Arg[]): Promise<unknown> {
    return this.one([command, ...args]);
  }

  ping = () => this.one<string>(['PING']);
  get = (key: string) => this.one<string | null>(['GET', key]);
  set(key: string, value: Arg, ex: 'EX', seconds: number): Promise<'OK'>;
  set(key: string, value: Arg, ex: 'EX', seconds: number, nx: 'NX'): Promise<'OK' | null>;
  set(key: string, value: Arg, ...rest: Arg[]): Promise<'OK' | null> {
    return this.one(['SET', key, value, ...rest]);
  }
  mget = (...keys: string[]) => this.one<Array<string | null>>(['MGET', ...keys]);
  del = (key: string) => this.one<number>(['DEL', key]);
  exists = (key: string) => this.one<number>(['EXISTS', key]);
  publish = (channel: string, message: string) => this.one<number>(['PUBLISH', channel, message]);
  hget = (key: string, field: string) => this.one<string | null>(['HGET', key, field]);
  hmget = (key: string, ...fields: string[]) => this.one<Array<string | null>>(['HMGET', key, ...fields]);
  hset = (key: string, ...fieldsAndValues: Arg[]) => this.one<number>(['HSET', key, ...fieldsAndValues]);
  hdel = (key: string, field: string) => this.one<number>(['HDEL', key, field]);
  hexists = (key: string, field: string) => this.one<number>(['HEXISTS', key, field]);
  hincrby = (key: string, field: string, increment: number) => this.one<number>(['HINCRBY', key, field, increment]);
  hgetall = (key: string) => this.one<Record<string, string>>(['HGETALL', key], asObject);
  hvals = (key: string) => this.one<string[]>(['HVALS', key]);
  hscan = (key: string, cursor: string, countToken: 'COUNT', count: number) => this.one<[string, string[]]>(['HSCAN', key, cursor, countToken, count]);
  sadd = (key: string, member: string) => this.one<number>(['SADD', key, member]);
  srem = (key: string, member: string) => this.one<number>(['SREM', key, member]);
  smembers = (key: string) => this.one<string[]>(['SMEMBERS', key]);
  zcard = (key: string) => this.one<number>(['ZCARD', key]);
  zrevrange = (key: string, start: number, stop: number) => this.one<string[]>(['ZREVRANGE', key, start, stop]);
  zrangebyscore = (key: string, min: number | string, max: number | string, ...withScores: ['WITHSCORES'] | []) =>
    this.one<string[]>(['ZRANGEBYSCORE', key, min, max, ...withScores]);
  script = (subcommand: 'LOAD', script: string) => this.one<unknown>(['SCRIPT', subcommand, script]);
  eval = (script: string, numKeys: number, ...keysAndArgs: Arg[]) => this.one<unknown>(['EVAL', script, numKeys, ...keysAndArgs]);
  evalsha = (sha: string, numKeys: number, ...keysAndArgs: Arg[]) => this.one<unknown>(['EVALSHA', sha, numKeys, ...keysAndArgs]);

  multi(): StoreBatch {
    return new LiteBatch((commands) => this.run(commands, true));
  }

  pipeline(): StoreBatch {
    return new LiteBatch((commands) => this.run(commands, false));
  }

  /** Runs a batch's commands at once (in a MULTI if `transaction`). */
  private async run(commands: Command[], transaction: boolean): Promise<Array<[Error | null, unknown]> | null> {
    if (commands.length === 0) return [];
    const body = transaction ? [{ args: ['MULTI'] }, ...commands.map(({ args }) => ({ args })), { args: ['EXEC'] }] : commands;
    const replies = await this.send(body);
    if (!transaction) return replies.map((reply) => (reply instanceof Error ? failed(reply) : [null, reply]));
    const refused = replies.slice(1, -1).find((reply): reply is Error => reply instanceof Error);
    const exec = replies.at(-1);
    if (exec instanceof Error) throw refused ? new ReplyError(`${exec.message} (${refused.message})`) : exec;
    if (exec === null) return null;
    return (exec as unknown[]).map((reply, i) => {
      if (reply instanceof Error) return failed(reply);
      const convert = commands[i]!.convert;
      return [null, convert ? convert(reply) : reply];
    });
  }
}

/** A pipeline or a MULTI of the light client: the commands queued, run by `runner` at exec. */
class LiteBatch implements StoreBatch {
  private readonly commands: Command[] = [];

  constructor(private readonly runner: (commands: Command[]) => Promise<Array<[Error | null, unknown]> | null>) {}

  private add(args: Arg[], convert?: (reply: unknown) => unknown): this {
    this.commands.push({ args, convert });
    return this;
  }

  hset(key: string, field: string, value: Arg): this;
  hset(key: string, values: Record<string, Arg>): this;
  hset(key: string, fieldOrValues: string | Record<string, Arg>, value?: Arg): this {
    const pairs = typeof fieldOrValues === 'string' ? [fieldOrValues, value!] : Object.entries(fieldOrValues).flat();
    return this.add(['HSET', key, ...pairs]);
  }
  smembers = (key: string) => this.add(['SMEMBERS', key]);
  del = (key: string) => this.add(['DEL', key]);
  eval = (script: string, numKeys: number, ...keysAndArgs: Arg[]) => this.add(['EVAL', script, numKeys, ...keysAndArgs]);
  evalsha = (sha: string, numKeys: number, ...keysAndArgs: Arg[]) => this.add(['EVALSHA', sha, numKeys, ...keysAndArgs]);
  set = (key: string, value: Arg, ex: 'EX', seconds: number) => this.add(['SET', key, value, ex, seconds]);
  sadd = (key: string, member: string) => this.add(['SADD', key, member]);
  srem = (key: string, member: string) => this.add(['SREM', key, member]);
  get = (key: string) => this.add(['GET', key]);
  pttl = (key: string) => this.add(['PTTL', key]);
  exists = (key: string) => this.add(['EXISTS', key]);
  hexists = (key: string, field: string) => this.add(['HEXISTS', key, field]);
  zcard = (key: string) => this.add(['ZCARD', key]);
  zrange = (key: string, start: number, stop: number) => this.add(['ZRANGE', key, start, stop]);

  exec(): Promise<Array<[Error | null, unknown]> | null> {
    return this.runner(this.commands);
  }
}

/** A batch's command that failed, as ioredis gives it: the error alone. */
function failed(err: Error): [Error, unknown] {
  return [err] as unknown as [Error, unknown];
}

/** HGETALL's flat [field, value...] as ioredis gives it: an object. */
function asObject(reply: unknown): Record<string, string> {
  const flat = reply as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** The connected socket (TLS for rediss://), or an error after CONNECT_TIMEOUT_MS. */
async function openSocket(where: LiteOptions): Promise<net.Socket> {
  const socket = where.path
    ? net.createConnection({ path: where.path })
    : where.tls
      ? (await import('node:tls')).connect({ host: where.host, port: where.port, servername: where.host && !net.isIP(where.host) ? where.host : undefined, ...where.tls })
      : net.createConnection({ host: where.host ?? 'localhost', port: where.port ?? 6379 });
  const ready = where.tls && !where.path ? 'secureConnect' : 'connect';
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error('connect ETIMEDOUT')), CONNECT_TIMEOUT_MS);
    socket.once('error', fail);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.removeListener('error', fail);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}
