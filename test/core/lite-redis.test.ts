/**
 * core/lite-redis.ts, the short commands' Redis client: replies read however
 * they are cut into chunks; every command of store-redis.ts gives what
 * ioredis gives for it on the same data; batches, scripts, AUTH and SELECT,
 * a Redis that is down, and one that comes back.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { ReplyError, ReplyParser, encodeCommands } from '../../src/core/resp.js';
import { LiteRedis, connectLite } from '../../src/core/lite-redis.js';
import type { StoreRedis } from '../../src/core/store-redis.js';
import { TestRedis, freePort } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

describe('RESP', () => {
  const replies: Array<[string, unknown]> = [
    ['+OK\r\n', 'OK'],
    ['-ERR wrong\r\n', new ReplyError('ERR wrong')],
    [':-42\r\n', -42],
    ['$-1\r\n', null],
    ['*-1\r\n', null],
    ['*0\r\n', []],
    [`$${Buffer.byteLength('é\r\nx')}\r\né\r\nx\r\n`, 'é\r\nx'],
    ['*3\r\n:1\r\n*2\r\n$1\r\na\r\n*0\r\n-NOSCRIPT gone\r\n', [1, ['a', []], new ReplyError('NOSCRIPT gone')]],
  ];
  const bytes = Buffer.from(replies.map(([w]) => w).join(''));
  const expected = replies.map(([, v]) => v);

  const parse = (chunks: Buffer[]) => {
    const out: unknown[] = [];
    const parser = new ReplyParser((reply) => out.push(reply));
    for (const chunk of chunks) parser.feed(chunk);
    return out;
  };

  it('reads each kind of reply, nested arrays and errors inside them', () => {
    expect(parse([bytes])).toEqual(expected);
  });

  it('reads the same however the bytes are cut', () => {
    for (let cut = 1; cut < bytes.length; cut++) expect(parse([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(expected);
    expect(parse([...bytes].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  it('reads a long bulk string coming in many chunks', () => {
    const long = 'x'.repeat(1_000_000);
    const all = Buffer.from(`$${long.length}\r\n${long}\r\n:7\r\n`);
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i += 65_536) chunks.push(all.subarray(i, i + 65_536));
    expect(parse(chunks)).toEqual([long, 7]);
  });

  it('writes a command as an array of bulk strings', () => {
    expect(encodeCommands([['SET', 'k', 12, Buffer.from([0, 255])], ['GET', 'k']]).toString('latin1')).toBe(
      '*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$2\r\n\x00\xff\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n',
    );
    expect(encodeCommands([['é']]).toString()).toBe('*1\r\n$2\r\né\r\n');
  });
});

describe('the light client against ioredis', () => {
  let server: TestRedis;
  let io: Redis;
  let lite: LiteRedis;

  beforeAll(async () => {
    server = await TestRedis.start();
    io = server.client();
    lite = await connectLite({ host: '127.0.0.1', port: server.port, connectionName: 'qm-test' });
  });
  afterAll(async () => {
    lite.disconnect();
    io.disconnect();
    await server.stop();
  });
  /** Errors inside a reply as their messages (the two clients' error classes differ). */
  const plain = (value: unknown): unknown =>
    value instanceof Error ? `error: ${value.message}` : Array.isArray(value) ? value.map(plain) : value;

  /** The data each call starts from. */
  async function seed(): Promise<void> {
    await io.flushall();
    await io.multi().set('s', 'é', 'EX', 1000).hset('h', 'a', '1', 'b', 'two').sadd('set', 'x').zadd('z', 1, 'one', 2, 'two').exec();
  }
  beforeEach(seed);

  /** Runs `call` through both clients, each from the same data: the same result, or the same error, and the same data after. */
  async function same(call: (redis: StoreRedis) => Promise<unknown>): Promise<unknown> {
    const outcome = async (redis: StoreRedis) => {
      await seed();
      const result = await call(redis).then((value) => ({ value: plain(value) }), (err: Error) => ({ error: err.message }));
      const data = await io.multi().get('s').hgetall('h').smembers('set').zrange('z', 0, -1).get('k').exec();
      return { result, data };
    };
    const [viaIo, viaLite] = [await outcome(io), await outcome(lite)];
    expect(viaLite).toEqual(viaIo);
    return viaLite.result;
  }

  it('gives what ioredis gives for every command the store sends', async () => {
    const reads: Array<(r: StoreRedis) => Promise<unknown>> = [
      (r) => r.ping(),
      (r) => r.get('s'),
      (r) => r.get('none'),
      (r) => r.mget('s', 'none'),
      (r) => r.exists('s'),
      (r) => r.hget('h', 'b'),
      (r) => r.hmget('h', 'a', 'zz', 'b'),
      (r) => r.hexists('h', 'a'),
      (r) => r.hgetall('h'),
      (r) => r.hgetall('none'),
      (r) => r.hvals('h'),
      (r) => r.hscan('h', '0', 'COUNT', 10),
      (r) => r.smembers('set'),
      (r) => r.zcard('z'),
      (r) => r.zrevrange('z', 0, -1),
      (r) => r.zrangebyscore('z', '-inf', '+inf'),
      (r) => r.zrangebyscore('z', 1, 2, 'WITHSCORES'),
      (r) => r.publish('qm:test', 'hello'),
      (r) => r.call('WAIT', 0, 10),
      (r) => r.hget('s', 'wrongtype'),
    ];
    for (const read of reads) await same(read);
    const writes: Array<(r: StoreRedis) => Promise<unknown>> = [
      (r) => r.set('k', 1, 'EX', 60),
      (r) => r.set('s', 2, 'EX', 60, 'NX'),
      (r) => r.set('k', 2, 'EX', 60, 'NX'),
      (r) => r.hset('h', 'c', 3, 'd', 'four'),
      (r) => r.hincrby('h', 'a', -1),
      (r) => r.hdel('h', 'b'),
      (r) => r.sadd('set', 'y'),
      (r) => r.srem('set', 'x'),
      (r) => r.del('s'),
    ];
    for (const write of writes) await same(write);
  });

  it('runs scripts: SCRIPT LOAD and EVALSHA, NOSCRIPT as ioredis reports it', async () => {
    const sha = (await same((r) => r.script('LOAD', 'return {KEYS[1], ARGV[1], 7}'))) as { value: string };
    await same((r) => r.evalsha(sha.value, 1, 'key', 'arg'));
    await same((r) => r.evalsha('0'.repeat(40), 0));
  });

  it('runs a MULTI and a pipeline as ioredis does, HGETALL as an object inside them', async () => {
    await same((r) => r.multi().get('s').hset('h', { c: 3, d: 'x' }).smembers('set').pttl('h').pttl('none').exists('h').hexists('h', 'c').exec());
    await same((r) => r.multi().set('k', 'v', 'EX', 100).sadd('set', 'q').srem('set', 'x').del('k').get('k').exec());
    await same((r) => r.multi().eval('return redis.call("GET", KEYS[1])', 1, 's').get('h').exec());
    await same((r) => r.pipeline().get('s').get('h').hset('h', 'e', 5).exec());
    await same((r) => r.multi().zcard('z').zrange('z', 0, -1).zrange('z', 0, 0).zcard('none').exec());
    expect(await lite.multi().exec()).toEqual([]);
    // an error at run time fails that command only
    await same((r) => r.multi().eval('return 1', -1).get('s').exec());
    await same((r) => r.pipeline().eval('return 1', 5, 'a').get('s').exec());
  });

  it('runs EVAL and EVALSHA, alone and in a pipeline; a script Redis does not hold is that command\'s NOSCRIPT error', async () => {
    const lua = 'return redis.call("HINCRBY", KEYS[1], ARGV[1], 1)';
    await same((r) => r.eval(lua, 1, 'h', 'a'));
    await io.script('FLUSH');
    await same((r) => r.pipeline().evalsha('0'.repeat(40), 1, 'h', 'a').get('s').exec());
    const sha = (await io.script('LOAD', lua)) as string;
    await same((r) => r.pipeline().evalsha(sha, 1, 'h', 'a').evalsha(sha, 1, 'h', Buffer.from('b')).exec());
    await same((r) => r.evalsha(sha, 1, 'h', 'a'));
  });

  it('sends AUTH and SELECT first; a wrong password is an error', async () => {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', 'pw', '--save', ''], { stdio: 'ignore' });
    try {
      await waitFor(async () => (await connectLite({ host: '127.0.0.1', port, password: 'pw' }).then((c) => (c.disconnect(), true), () => false)), {
        timeout: 10_000,
        what: 'redis with a password',
      });
      const authed = await connectLite({ host: '127.0.0.1', port, password: 'pw', db: 3 });
      await authed.set('in3', 'yes', 'EX', 60);
      const check = new Redis(port, '127.0.0.1', { password: 'pw', db: 3 });
      expect(await check.get('in3')).toBe('yes');
      check.disconnect();
      authed.disconnect();
      await expect(connectLite({ host: '127.0.0.1', port, password: 'wrong' })).rejects.toThrow(/WRONGPASS|invalid password/i);
      await expect(connectLite({ host: '127.0.0.1', port })).resolves.toBeInstanceOf(LiteRedis);
      const noAuth = await connectLite({ host: '127.0.0.1', port });
      await expect(noAuth.ping()).rejects.toThrow(/NOAUTH/);
      noAuth.disconnect();
    } finally {
      child.kill();
    }
  });

  it('fails at once where no Redis listens, and gives up after a few attempts', async () => {
    const port = await freePort();
    await expect(connectLite({ host: '127.0.0.1', port })).rejects.toThrow(/ECONNREFUSED/);
    const lazy = new LiteRedis({ host: '127.0.0.1', port });
    const started = Date.now();
    await expect(lazy.ping()).rejects.toThrow(/ECONNREFUSED/);
    // the three waits between the attempts
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_100);
    lazy.disconnect();
  });

  it('connects again after Redis came back; commands after disconnect() fail', async () => {
    const own = await TestRedis.start();
    const client = await connectLite({ host: '127.0.0.1', port: own.port });
    const events: string[] = [];
    client.on('close', () => events.push('close'));
    client.on('ready', () => events.push('ready'));
    try {
      expect(client.status).toBe('ready');
      await own.stopServer();
      await waitFor(() => client.status === 'wait', { timeout: 5_000, what: 'the close seen' });
      const restarted = own.startServer();
      expect(await client.ping()).toBe('PONG');
      await restarted;
      expect(events).toEqual(['close', 'ready']);
      client.disconnect();
      await expect(client.ping()).rejects.toThrow('Connection is closed.');
      expect(client.status).toBe('end');
    } finally {
      client.disconnect();
      await own.stop();
    }
  });
});
