/**
 * core/msgpack.ts packs what BullMQ's add scripts unpack: each value, packed
 * here, is unpacked by Redis's own cmsgpack (in Lua, as those scripts do) and
 * read back as JSON; the sizes cross every length form (fix, 8, 16, 32 bits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pack, type Packable } from '../../src/core/msgpack.js';
import { TestRedis } from '../helpers/redis.js';

let server: TestRedis;
let redis: Redis;

beforeAll(async () => {
  server = await TestRedis.start();
  redis = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: null });
});

afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** The value as Redis's Lua unpacks it, encoded as JSON there. */
async function unpackedByRedis(value: Packable): Promise<unknown> {
  return JSON.parse((await redis.eval('return cjson.encode(cmsgpack.unpack(ARGV[1]))', 0, pack(value))) as string);
}

const count = (n: number) => Array.from({ length: n }, (_, i) => i % 200);
const entries = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, i]));

describe('pack', () => {
  it.each([
    ['small and negative integers', [0, 127, 128, -1, -32, -33]],
    ['32-bit integers and beyond', [2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1_765_000_000_123]],
    ['fractions', [1.5, -0.25]],
    ['booleans', [true, false]],
    ['strings of every length form', ['a', 'x'.repeat(31), 'x'.repeat(32), 'é'.repeat(128), 'x'.repeat(256), 'y'.repeat(70_000)]],
    ['arrays of every length form', [count(15), count(16), count(70_000)]],
    ['maps of every length form, nested', [entries(15), entries(16), { a: { b: ['c', 1] } }]],
  ])('%s: Redis unpacks what was packed', async (_what, values) => {
    for (const value of values as Packable[]) expect(await unpackedByRedis(value)).toEqual(value);
  });

  it('packs nil as nil, and a long value after a short one whole', async () => {
    expect(await redis.eval('return cmsgpack.unpack(ARGV[1]) == nil and 1 or 0', 0, pack(null))).toBe(1);
    pack('short');
    expect(await unpackedByRedis(['z'.repeat(100_000), 1])).toEqual(['z'.repeat(100_000), 1]);
  });
});
