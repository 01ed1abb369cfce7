/**
 * Several `qm ingest` on one QM folder (SPEC §11): one is active, the others
 * stand by.
 * 1. Holds the ingest lease in Redis (core/ingest-lease.ts), renewing it, and
 *    runs the ingest role only while it holds it.
 * 2. Standing by, says so once (`standby`, naming the active one) and tries
 *    for the lease every STANDBY_TRY_MS: it takes over when the active one
 *    gives it back (a clean stop) or lets it lapse (killed, cut off).
 * 3. A lease renewal that finds another holder (this one was cut off long
 *    enough for another to take over) stops the role and stands by again.
 * 4. A holder on this machine whose process is gone is replaced at once.
 * Two ingests active for a moment queue nothing twice: a name is queued once
 * (JobStore.enqueue) and a folder is claimed once (the rename).
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Settings } from '../core/settings-types.js';
import { logger, type Logger } from '../core/log.js';
import { connect, openQueue } from '../core/redis.js';
import { JobStore } from '../core/jobstore.js';
import { pidAlive, pidSpace } from '../core/liveness.js';
import {
  LEASE_RENEW_MS, LEASE_TTL_MS, STANDBY_TRY_MS, describeLease, parseLease, type IngestLease,
} from '../core/ingest-lease.js';
import { IngestRole } from './ingest.js';

/** How long start() waits for its first try when Redis is slow to answer. */
const FIRST_TRY_MS = 2_000;

export class LeasedIngest {
  private readonly log: Logger;
  private readonly redis: Redis;
  private readonly store: JobStore;
  private readonly lease: string;
  private role: IngestRole | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** the holder last reported while standing by (reported again only when it changes) */
  private reportedHolder: string | undefined;
  private turn: Promise<void> = Promise.resolve();
  /** the role's start (its first scan): the lease is renewed meanwhile */
  private starting: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly settings: Settings,
    private readonly redisUrl: string,
    /** passed to the role: see IngestRole */
    private readonly reapOrphans = true,
  ) {
    this.log = logger('ingest');
    this.redis = connect(redisUrl, this.log, 'ingest lease');
    this.store = new JobStore(this.redis, openQueue(this.redis), settings.server.keepDone);
    const me: IngestLease = {
      host: os.hostname(), pid: process.pid, pidSpace, instance: randomBytes(6).toString('hex'), since: Date.now(),
    };
    this.lease = JSON.stringify(me);
  }

  get active(): boolean {
    return this.role !== undefined;
  }

  /**
   * Tries for the lease, then keeps trying (or renewing) in the background;
   * the role starts once the lease is held. Returns after the first try, or
   * after FIRST_TRY_MS while Redis does not answer.
   */
  async start(): Promise<void> {
    if (this.redis.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.redis.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, FIRST_TRY_MS);
        this.redis.once('ready', done);
      });
    }
    this.run();
    await this.turn;
    await this.starting;
  }

  private run(): void {
    this.turn = this.tick().catch((err: Error) => this.log.debug(`ingest lease: ${err.message}`));
    void this.turn.then(() => {
      if (!this.stopped) this.timer = setTimeout(() => this.run(), this.role ? LEASE_RENEW_MS : STANDBY_TRY_MS);
    });
  }

  private async tick(): Promise<void> {
    // Redis away: the lease can be neither renewed nor taken; the role waits for Redis anyway
    if (this.redis.status !== 'ready') return;
    const dead = this.role ? '' : await this.deadLocalHolder();
    const holder = await this.store.takeIngestLease(this.lease, LEASE_TTL_MS, dead);
    if (this.stopped) return;
    if (holder === this.lease) {
      // the holder it last saw may not be the last one: a holder that came and went between two looks is not seen
      if (!this.role) this.becomeActive(dead ? `from ${this.describe(dead)} (its process is gone)` : this.reportedHolder && `(the last holder seen here: ${this.describe(this.reportedHolder)})`);
      return;
    }
    if (this.role) {
      this.log.warn(`lease taken by ${this.describe(holder)}: standing by`);
      const role = this.role;
      this.role = undefined;
      await this.starting;
      await role.stop();
    }
    if (holder !== this.reportedHolder) {
      this.log.info(`standby: the active ingest is ${this.describe(holder)}; taking over if it stops`);
      this.reportedHolder = holder;
    }
  }

  /** `from`: which ingest this one takes over from, as far as it knows, if any. */
  private becomeActive(from: string | undefined): void {
    this.reportedHolder = undefined;
    this.log.info(from ? `active: took over the ingest lease ${from}` : 'active: holds the ingest lease');
    const role = new IngestRole(this.settings, this.redisUrl, this.reapOrphans, this.lease);
    this.role = role;
    // not awaited by the tick: a first scan of a long QM_qJobs or QM_dJobs may
    // take longer than the lease lasts, and the lease must be renewed meanwhile
    this.starting = role.start().catch((err: Error) => this.log.error(`could not start: ${err.message}`));
  }

  /** The current holder when it ran on this machine and its process is gone ('' otherwise). */
  private async deadLocalHolder(): Promise<string> {
    const current = await this.store.activeIngest();
    if (!current || current.raw === this.lease) return '';
    const { lease } = current;
    return pidSpace && lease.pidSpace === pidSpace && !pidAlive(lease.pid) ? current.raw : '';
  }

  private describe(holder: string): string {
    const lease = parseLease(holder);
    return lease ? describeLease(lease) : 'another ingest';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.turn;
    await this.starting;
    const role = this.role;
    this.role = undefined;
    if (role) {
      await role.stop();
      // given back at once: a standby takes over within STANDBY_TRY_MS
      if (this.redis.status === 'ready') await this.store.giveBackIngestLease(this.lease).catch(() => undefined);
    }
    await this.store.close();
    this.redis.disconnect();
  }
}
