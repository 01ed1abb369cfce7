/**
 * `redis_url` read (no connection made here, so that reading a config does
 * not load the Redis client).
 * 1. redis://, rediss://, unix:// and redis+sentinel:// URLs into ioredis options.
 * 2. A malformed URL is a RedisUrlError saying what is wrong with it.
 * 3. The URL as it may be printed (password hidden).
 */
import type { RedisOptions } from 'ioredis';

/** A `redis_url` QM cannot use; the message says what is wrong with it. */
export class RedisUrlError extends Error {}

const SENTINEL_SCHEME = 'redis+sentinel://';
/** Sentinel's own port, when a sentinel address has none. */
const SENTINEL_PORT = 26379;

export function redisOptions(url: string): RedisOptions {
  if (url.startsWith('unix://') || url.startsWith('/')) {
    return { path: url.startsWith('unix://') ? url.slice('unix://'.length) : url };
  }
  if (url.toLowerCase().startsWith(SENTINEL_SCHEME)) return sentinelOptions(url);
  if (!/^rediss?:\/\//i.test(url) || !URL.canParse(url)) throw new RedisUrlError('not a redis://, rediss://, redis+sentinel:// or unix:// URL');
  const u = new URL(url);
  if (!u.hostname) throw new RedisUrlError('no host');
  const options: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
  };
  if (u.username) options.username = decodeURIComponent(u.username);
  if (u.password) options.password = decodeURIComponent(u.password);
  Object.assign(options, dbOf(u.pathname.replace(/^\//, '')));
  if (u.protocol === 'rediss:') options.tls = {};
  return options;
}

function dbOf(text: string): { db?: number } {
  if (text === '') return {};
  if (!/^\d+$/.test(text)) throw new RedisUrlError(`database "${text}" is not a number`);
  return { db: Number(text) };
}

/**
 * `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]`:
 * ioredis asks the sentinels where MASTER's primary is, and asks again after
 * a failover. The password is the Redis servers' (sentinels without one).
 */
function sentinelOptions(url: string): RedisOptions {
  const m = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/@]*)(?:\/([^/]*))?(?:\/([^/]*))?$/i.exec(url);
  if (!m) throw new RedisUrlError(`expected ${SENTINEL_SCHEME}[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER`);
  const [, auth, hostList, master, db] = m;
  if (!master || !/^[\w.-]+$/.test(master)) throw new RedisUrlError('no master name after the sentinel addresses (…/MASTER)');
  const sentinels = hostList!.split(',').map((address) => {
    const hp = /^(\[[0-9a-f:.]+\]|[\w.-]+)(?::(\d{1,5}))?$/i.exec(address.trim());
    if (!hp) throw new RedisUrlError(`sentinel address "${address}" is not HOST:PORT`);
    return { host: hp[1]!.replace(/^\[|\]$/g, ''), port: hp[2] ? Number(hp[2]) : SENTINEL_PORT };
  });
  const options: RedisOptions = { sentinels, name: master, ...dbOf(db ?? '') };
  if (auth) {
    const colon = auth.indexOf(':');
    const user = colon < 0 ? '' : auth.slice(0, colon);
    const password = colon < 0 ? auth : auth.slice(colon + 1);
    if (user) options.username = decodeURIComponent(user);
    if (password) options.password = decodeURIComponent(password);
  }
  return options;
}

/** The URL as it may be printed: its password hidden. */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}
