/**
 * ioredis's Redis class, loaded without its Cluster client. ioredis's index,
 * and the Redis class's own file too, load the whole Cluster client (nine
 * files) only to hang it on `Redis.Cluster`; QM never uses a Redis Cluster,
 * and a short command (`qm submit`) spends most of its time loading code. A
 * placeholder module stands in the require cache where the Cluster's file
 * would be, unless ioredis was loaded whole before; should ioredis move its
 * files, it is loaded whole. Standalone and Sentinel connections are untouched.
 */
import Module, { createRequire } from 'node:module';
import type { Redis as RedisClient } from 'ioredis';

const load = createRequire(import.meta.url);

/** What stands for ioredis's Cluster: a class that says why it cannot be used. */
class ClusterNotLoaded {
  constructor() {
    throw new Error('QM loads ioredis without its Cluster client (core/ioredis-class.ts)');
  }
}

export function loadRedisClass(): typeof RedisClient {
  let clusterFile: string;
  let redisFile: string;
  try {
    clusterFile = load.resolve('ioredis/built/cluster/index.js');
    redisFile = load.resolve('ioredis/built/Redis.js');
  } catch {
    return (load('ioredis') as { Redis: typeof RedisClient }).Redis;
  }
  if (!load.cache[clusterFile]) {
    const placeholder = new Module(clusterFile);
    placeholder.filename = clusterFile;
    placeholder.exports = { __esModule: true, default: ClusterNotLoaded };
    placeholder.loaded = true;
    load.cache[clusterFile] = placeholder;
  }
  return (load(redisFile) as { default: typeof RedisClient }).default;
}
