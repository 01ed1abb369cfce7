/**
 * QM's side of Redis shared by its processes beyond the queue (jobstore.ts
 * adds the queue, the running table and the done records over it):
 * 1. The connection: whether it answers, and Lua scripts by their sha.
 * 2. Workers: heartbeats, lost marks, the lock on a lost job, kill requests.
 * 3. The ingest lease (one active ingest), the active ingest's list of the
 *    folders it sees settling, and the monitors' shared CSRF secret.
 */
import { keys } from './keys.js';
import type { StoreRedis } from './store-redis.js';
import { DELETE_KEY_IF_EQUAL_SCRIPT, SETTLING_SCRIPT, SHARED_SECRET_SCRIPT, TAKE_LEASE_SCRIPT } from './store-scripts.js';
import { parseLease, type IngestLease } from './ingest-lease.js';
import { parseHeartbeat, type Heartbeat } from './heartbeat.js';

/** How long a lost mark is kept: longer than any outage a worker comes back from. */
const LOST_MARK_S = 7 * 24 * 3600;
/** Records read or written per command. */
export const CHUNK = 1000;

export class CoordinationStore {
  private readySince: number | undefined;
  /** script → its sha, once loaded */
  private readonly shas = new Map<string, string>();

  constructor(protected readonly redis: StoreRedis) {
    if (redis.status === 'ready') this.readySince = Date.now();
    redis.on('ready', () => (this.readySince = Date.now()));
    redis.on('close', () => (this.readySince = undefined));
  }

  /** Does Redis answer now? */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Has Redis answered without a break for `ms`? */
  steadyFor(ms: number, now = Date.now()): boolean {
    return this.readySince !== undefined && now - this.readySince >= ms;
  }

  // --- workers -----------------------------------------------------------------

  async writeHeartbeat(hb: Heartbeat, ttlSeconds: number): Promise<void> {
    await this.redis.multi().set(keys.worker(hb.name), JSON.stringify(hb), 'EX', ttlSeconds).sadd(keys.workers, hb.name).exec();
  }

  async removeHeartbeat(name: string): Promise<void> {
    await this.redis.multi().del(keys.worker(name)).srem(keys.workers, name).exec();
  }

  /** The heartbeats of these workers, by name (the missing and unreadable left out). */
  async heartbeats(names: string[]): Promise<Map<string, Heartbeat>> {
    const unique = [...new Set(names)];
    const found = new Map<string, Heartbeat>();
    if (unique.length === 0) return found;
    const values = await this.redis.mget(...unique.map((n) => keys.worker(n)));
    values.forEach((raw, i) => {
      const hb = raw ? parseHeartbeat(raw) : undefined;
      if (hb) found.set(unique[i]!, hb);
    });
    return found;
  }

  /** The workers whose heartbeat is alive, by name. */
  async liveWorkers(): Promise<Heartbeat[]> {
    const beats = await this.heartbeats(await this.redis.smembers(keys.workers));
    return [...beats.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** A worker's heartbeat and how long before it lapses (ms; negative when it does not). */
  async heartbeatOf(name: string): Promise<{ hb: Heartbeat; ttlMs: number } | undefined> {
    const [[, raw], [, ttl]] = ((await this.redis.multi().get(keys.worker(name)).pttl(keys.worker(name)).exec()) ?? []) as [
      [unknown, string | null], [unknown, number],
    ];
    const hb = raw ? parseHeartbeat(raw) : undefined;
    return hb && { hb, ttlMs: ttl };
  }

  /** Was job `id` declared lost for worker `instance`? Unknown (false) while Redis is unreachable. */
  async isMarkedLost(id: string, instance: string): Promise<boolean> {
    if (!this.connected) return false;
    return (await this.redis.get(keys.lostMark(id))) === instance;
  }

  /** Job `id` of worker `instance` is being moved on by another process: that worker must leave it. */
  async markLost(id: string, instance: string): Promise<void> {
    await this.redis.set(keys.lostMark(id), instance, 'EX', LOST_MARK_S);
  }

  /** Only one process at a time moves a lost job: true for the one that got it. */
  async lockLostJob(id: string, holder: string): Promise<boolean> {
    return (await this.redis.set(keys.reapLock(id), holder, 'EX', 60, 'NX')) === 'OK';
  }

  async unlockLostJob(id: string): Promise<void> {
    await this.redis.del(keys.reapLock(id));
  }

  /** Asks whichever worker runs job `id` to kill it (SIGTERM, SIGKILL after kill_grace): killRequestIn reads it. */
  async requestKill(id: string, by: string): Promise<void> {
    await this.redis.publish(keys.control, JSON.stringify({ type: 'kill', id, by }));
  }

  // --- the ingest lease, shared secrets ------------------------------------------

  /**
   * Takes the ingest lease for `lease` (JSON), or renews it, for `ttlMs`; also
   * from `deadHolder`, a holder known to be dead. The holder's JSON after the
   * call: `lease` itself when this ingest is the active one.
   */
  async takeIngestLease(lease: string, ttlMs: number, deadHolder = ''): Promise<string> {
    return (await this.evalScript(TAKE_LEASE_SCRIPT, 1, keys.ingestLease, lease, ttlMs, deadHolder)) as string;
  }

  /** The active ingest stops: its lease is free at once. */
  async giveBackIngestLease(lease: string): Promise<void> {
    await this.evalScript(DELETE_KEY_IF_EQUAL_SCRIPT, 1, keys.ingestLease, lease);
  }

  /** The active ingest's lease (and as stored), and how long before it lapses (ms). */
  async activeIngest(): Promise<{ lease: IngestLease; raw: string; ttlMs: number } | undefined> {
    const [[, raw], [, ttl]] = ((await this.redis.multi().get(keys.ingestLease).pttl(keys.ingestLease).exec()) ?? []) as [
      [unknown, string | null], [unknown, number],
    ];
    const lease = raw ? parseLease(raw) : undefined;
    return lease && raw ? { lease, raw, ttlMs: ttl } : undefined;
  }

  /**
   * Changes the active ingest's list of settling folders (SETTLING_SCRIPT), as
   * the holder of `lease`: `fresh` starts it anew, `whole` says it is complete
   * once written (from then on the read model reads it instead of QM_qJobs).
   * False when `lease` is not the holder's: nothing (more) written.
   */
  async publishSettling(lease: string, change: { fresh: boolean; whole: boolean; left: string[]; joined: string[] }): Promise<boolean> {
    const { left, joined } = change;
    const steps = Math.max(1, Math.ceil((left.length + joined.length) / CHUNK));
    for (let step = 0, l = 0, j = 0; step < steps; step++) {
      const out = left.slice(l, l + CHUNK);
      const into = joined.slice(j, j + CHUNK - out.length);
      l += out.length;
      j += into.length;
      const first = step === 0 && change.fresh ? '1' : '';
      const last = step === steps - 1 && change.whole ? '1' : '';
      const keyList = [keys.ingestLease, keys.ingestSettling, keys.ingestSettlingBy];
      const done = await this.evalScript(SETTLING_SCRIPT, keyList.length, ...keyList, lease, first, last, out.length, ...out, ...into);
      if (Number(done) !== 1) return false;
    }
    return true;
  }

  /** Whose list of settling folders is complete on this Redis (a lease JSON), if any. */
  async settlingPublisher(): Promise<string | undefined> {
    return (await this.redis.get(keys.ingestSettlingBy)) ?? undefined;
  }

  /**
   * The folders the active ingest sees settling: how many, and the first
   * `limit` by name (-1: all); undefined when no live ingest holds a complete
   * list (none active, or it has not read QM_qJobs through yet).
   */
  async settlingNames(limit: number): Promise<{ total: number; names: string[] } | undefined> {
    const replies = (await this.redis.multi().get(keys.ingestLease).get(keys.ingestSettlingBy).zcard(keys.ingestSettling)
      .zrange(keys.ingestSettling, 0, limit < 0 ? -1 : limit - 1).exec()) ?? [];
    const [[, lease], [, by], [, total], [, names]] = replies as [[unknown, string | null], [unknown, string | null], [unknown, number], [unknown, string[]]];
    if (!lease || lease !== by) return undefined;
    return { total, names };
  }

  /** The monitors' CSRF secret: the one on this Redis, else `candidate` becomes it. */
  async csrfSecret(candidate: string): Promise<string> {
    return (await this.evalScript(SHARED_SECRET_SCRIPT, 1, keys.csrfSecret, candidate)) as string;
  }

  /**
   * EVALSHA; the first time (and after a Redis restart) EVAL, with SCRIPT
   * LOAD sent at once for the sha of the next times (one round trip).
   */
  protected async evalScript(script: string, numKeys: number, ...keysAndArgs: Array<string | number>): Promise<unknown> {
    const sha = this.shas.get(script);
    if (!sha) {
      const [result, loaded] = await Promise.all([this.redis.eval(script, numKeys, ...keysAndArgs), this.redis.script('LOAD', script)]);
      this.shas.set(script, loaded as string);
      return result;
    }
    try {
      return await this.redis.evalsha(sha, numKeys, ...keysAndArgs);
    } catch (err) {
      if (!(err as Error).message.includes('NOSCRIPT')) throw err;
      this.shas.delete(script);
      return this.evalScript(script, numKeys, ...keysAndArgs);
    }
  }
}

/** The kill request a message on the control channel is (see requestKill), if it is one. */
export function killRequestIn(message: string): { id: string; by?: string } | undefined {
  try {
    const msg = JSON.parse(message) as { type?: string; id?: string; by?: string };
    return msg.type === 'kill' && msg.id ? { id: msg.id, ...(msg.by !== undefined && { by: msg.by }) } : undefined;
  } catch {
    return undefined;
  }
}
