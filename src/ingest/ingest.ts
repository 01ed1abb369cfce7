/**
 * The ingest role (SPEC §1, §2, §4).
 * 1. Watches QM_qJobs (events, or polling for network shares) and rescans it
 *    periodically, so a wiped or replaced Redis is rebuilt from the folders.
 * 2. Waits until a dropped entry has settled, reads its descriptor, and
 *    enqueues it — or moves it to QM_lost+found with the reason.
 * 3. Wraps a lone NAME.sh into NAME/; takes a deleted folder out of the queue.
 *    Records the finished jobs of QM_dJobs a new or wiped Redis does not know
 *    (done-folders.ts).
 * 4. Keeps the list of the folders it sees settling in Redis for the read
 *    model, while it holds the ingest lease (settling-board.ts).
 * 5. Never loops on a folder it cannot handle: what it cannot move is reported
 *    once and left alone until it changes (admission.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Settings } from '../core/settings-types.js';
import { exists, isIgnoredName, layoutOf, moveToLostFound, type Layout } from '../core/folders.js';
import { logger, type Logger } from '../core/log.js';
import { connect, finishUnlessAway, openQueue } from '../core/redis.js';
import { JobStore } from '../core/jobstore.js';
import { Lifecycle } from '../core/lifecycle.js';
import type { QueuedJob } from '../core/status.js';
import { SettleTracker, lookAtTree, type TreeLook } from './settle.js';
import { wrapLoneScript } from './wrap.js';
import { QueueWatcher } from './watch.js';
import { Refusals, admit, kindOf, readJob } from './admission.js';
import { Departures } from './departures.js';
import { OrphanReaper } from '../core/lost-workers.js';
import { recordDoneFolders } from './done-folders.js';
import { SettlingBoard } from './settling-board.js';
import { splitTaskName } from '../core/job-array.js';

const RESCAN_MS = 5_000;
const BATCH_MS = 20;

export class IngestRole {
  private readonly log: Logger;
  private readonly layout: Layout;
  private readonly redis: Redis;
  private readonly store: JobStore;
  private readonly lifecycle: Lifecycle;
  private readonly reaper: OrphanReaper;
  private readonly refusals = new Refusals();
  private readonly departures: Departures;
  /** folders told once that their descriptor is awaited */
  private readonly awaited = new Set<string>();
  private watcher: QueueWatcher | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  /** entries waiting to settle: name → its tracker and timer */
  private readonly pending = new Map<string, { tracker: SettleTracker; timer?: NodeJS.Timeout }>();
  private readonly inFlight = new Set<Promise<void>>();
  /** settled entries waiting to be ingested together, in settle order, with what their settle check saw */
  private readonly ready = new Map<string, TreeLook>();
  /** the entries the flush in progress is ingesting */
  private readonly ingesting = new Set<string>();
  /**
   * those of them already queued (or lost, refused, waiting again): no longer
   * settling, though a rescan leaves them alone until the flush ends
   */
  private readonly handledNow = new Set<string>();
  private flushing: Promise<void> = Promise.resolve();
  /** a rescan is under way (with a long queue one may outlast RESCAN_MS) */
  private rescanning = false;
  /** checks reading their entry's tree right now */
  private checking = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** the list of settling folders in Redis (with a lease: the active ingest's) */
  private readonly board: SettlingBoard | undefined;

  /**
   * `reapOrphans`: ingest also moves on the jobs of lost workers (so they are
   * moved even when no worker is left); off when a worker runs in the same
   * process, whose own check does it. `lease`: the ingest lease this role
   * runs under (JSON), under which it lists the folders it sees settling.
   */
  constructor(
    private readonly settings: Settings,
    redisUrl: string,
    private readonly reapOrphans = true,
    lease?: string,
  ) {
    this.log = logger('ingest');
    this.layout = layoutOf(settings.server.qmFolder);
    this.redis = connect(redisUrl, this.log, 'ingest');
    this.store = new JobStore(this.redis, openQueue(this.redis), settings.server.keepDone);
    this.lifecycle = new Lifecycle(this.store, this.layout, this.log);
    this.departures = new Departures(this.store, this.layout, this.log, (work) => this.track(work));
    if (lease !== undefined) {
      this.board = new SettlingBoard(this.store, lease, {
        isSettling: (name) => this.pending.has(name) || this.ready.has(name) || (this.ingesting.has(name) && !this.handledNow.has(name)) || this.refusals.has(name),
        settlingNow: () => [...this.pending.keys(), ...this.ready.keys(), ...[...this.ingesting].filter((n) => !this.handledNow.has(n)), ...this.refusals.names()],
      }, this.log);
    }
    this.redis.on('ready', () => void this.rescan());
    // jobs of lost workers are moved on even when no other worker is left
    this.reaper = new OrphanReaper({
      lifecycle: this.lifecycle,
      settings,
      log: this.log,
      holder: `ingest/${process.pid}`,
    });
  }

  async start(): Promise<void> {
    const s = this.settings.server;
    // polling (network shares, where inotify sees nothing): the rescan every poll_interval is the watcher
    if (s.watchMode === 'events') {
      this.watcher = new QueueWatcher(
        this.layout.queued,
        (name) => this.onEvent(name),
        (err) => this.log.warn(`watch error: ${err.message}`),
      );
      await this.watcher.arm();
    }
    await this.rescan();
    this.rescanTimer = setInterval(() => void this.rescan(), s.watchMode === 'polling' ? s.pollInterval * 1000 : RESCAN_MS);
    if (this.reapOrphans) this.reaper.start();
    this.log.info(`watching ${this.layout.queued} (${s.watchMode}, settle_time ${s.settleTime} s)`);
  }

  /** Compares QM_qJobs with the queue: enqueues what is missing, forgets what is gone. */
  private async rescan(): Promise<void> {
    if (this.stopped || this.rescanning || this.redis.status !== 'ready') return;
    this.rescanning = true;
    try {
      await this.watcher?.arm();
      const [entries, queued] = await Promise.all([fs.readdir(this.layout.queued), this.store.queuedNames()]);
      const present = new Set(entries.filter((n) => !isIgnoredName(n)));
      for (const name of present) {
        // on its way already: settling, settled, being queued (else each rescan of a long backlog would read it all again)
        if (queued.has(name) || this.inProgress(name) || (await this.refusals.unchanged(name, path.join(this.layout.queued, name)))) continue;
        this.schedule(name, 0);
      }
      // refused and gone (no event says so when polling)
      for (const name of this.refusals.names()) {
        if (present.has(name)) continue;
        this.refusals.forget(name);
        this.board?.touch(name);
      }
      await this.board?.scanned();
      for (const name of queued.keys()) {
        // a queued task of an array has no folder until it starts: its array's is there
        const task = splitTaskName(name);
        if (task && present.has(task.array)) continue;
        if (!present.has(name) && !this.pending.has(name)) this.removed(name);
      }
      const found = await recordDoneFolders(this.store, this.layout, this.settings.server.keepDone);
      if (found > 0) this.log.info(`recorded ${found} finished job(s) found in ${this.layout.done} without a record`);
    } catch (err) {
      this.log.debug(`rescan failed: ${(err as Error).message}`);
    } finally {
      this.rescanning = false;
    }
  }

  private inProgress(name: string): boolean {
    return this.pending.has(name) || this.ready.has(name) || this.ingesting.has(name);
  }

  /** Something happened to QM_qJobs/NAME: it is there (settle and queue it), or it left. */
  private onEvent(name: string | undefined): void {
    if (name === undefined) return void this.rescan();
    if (isIgnoredName(name) || this.stopped) return;
    this.track(exists(path.join(this.layout.queued, name)).then((present) => (present ? this.schedule(name, 0) : this.removed(name))));
  }

  private schedule(name: string, delayMs: number): void {
    if (this.stopped) return;
    let entry = this.pending.get(name);
    if (entry?.timer) return; // already waiting: the check re-reads the tree anyway
    if (!entry) {
      entry = { tracker: new SettleTracker() };
      this.pending.set(name, entry);
      this.board?.touch(name);
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.track(this.check(name, entry));
    }, delayMs);
  }

  private track(work: Promise<void>): void {
    const p = work
      .catch((err: Error) => this.log.error(`ingest error: ${err.message}`))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async check(name: string, entry: { tracker: SettleTracker }): Promise<void> {
    const full = path.join(this.layout.queued, name);
    let look: TreeLook;
    this.checking += 1;
    try {
      look = await lookAtTree(full);
    } catch {
      this.removed(name); // gone
      return;
    } finally {
      this.checking -= 1;
    }
    const wait = entry.tracker.remaining(look.newest, this.settings.server.settleTime * 1000);
    if (wait > 0) {
      // due exactly when settled: entries then settle in the order of their last change
      this.schedule(name, wait + 1);
      return;
    }
    this.pending.delete(name);
    this.ready.set(name, look);
    // one flush at a time, so queue order follows settle order
    if (this.ready.size > 1) return;
    // entries settling together (found by one rescan, dropped at once) are queued
    // together, oldest first, so that workers see them all and start the highest
    // priority first: while others are settling or being checked, wait BATCH_MS
    // for them; a lone entry goes at once
    this.batchTimer = setTimeout(() => {
      this.flushing = this.flushing
        .then(() => this.flushReady())
        .catch((err: Error) => this.log.error(`could not queue: ${err.message}`));
      this.track(this.flushing);
    }, this.pending.size > 0 || this.checking > 0 ? BATCH_MS : 0);
  }

  /** The settled entries, known as being ingested until they are (a rescan leaves them alone). */
  private async flushReady(): Promise<void> {
    const settled = [...this.ready];
    this.ready.clear();
    for (const [name] of settled) this.ingesting.add(name);
    try {
      await this.ingest(settled);
    } finally {
      for (const name of this.ingesting) this.board?.touch(name);
      this.ingesting.clear();
      this.handledNow.clear();
    }
  }

  /** `name` is queued, or in QM_lost+found, or waits again, or was left alone: no longer settling. */
  private handled(name: string): void {
    this.handledNow.add(name);
    this.board?.touch(name);
  }

  /**
   * Ingests the entries that settled together one by one, oldest first, so
   * that jobs found at start-up are queued in FIFO order (SPEC §3).
   */
  private async ingest(settled: Array<[string, TreeLook]>): Promise<void> {
    // already queued (by `qm submit`, or found again by a rescan): nothing to read
    const queued = await this.store.liveQueued(settled.map(([name]) => name));
    const jobs: QueuedJob[] = [];
    for (const [name, look] of settled) {
      if (queued.has(name)) {
        this.handled(name);
        continue;
      }
      const full = path.join(this.layout.queued, name);
      const job = await this.prepare(name, full, look).catch((err: Error) => this.refuse(name, full, `could not read it: ${err.message}`));
      if (job) jobs.push(job);
      else this.handled(name);
    }
    jobs.sort((a, b) => a.descriptorMtime - b.descriptorMtime);
    const ids = await this.lifecycle.queueAll(jobs);
    for (const [i, job] of jobs.entries()) {
      const id = ids[i];
      if (id) this.log.info({ job: job.name }, `queued (${job.nbProc} processor${job.nbProc > 1 ? 's' : ''}, priority ${job.priority}, id ${id})`);
      this.handled(job.name);
    }
  }

  /** The entry has settled (`look`: what its settle check saw): its job, or undefined after explaining why not in QM_lost+found. */
  private async prepare(name: string, full: string, look: TreeLook): Promise<QueuedJob | undefined> {
    const stat = look.top;
    if (!stat.isDirectory()) {
      if (stat.isFile() && name.endsWith('.sh')) {
        const wrapped = await wrapLoneScript(this.layout, name);
        if (wrapped.ok) return undefined; // the new folder arrives as its own event
        return this.lose(full, name, wrapped.reason);
      }
      return this.lose(full, name, `not a job: ${kindOf(stat)} (a job is a folder, or a lone *.sh script)`);
    }
    const admission = await admit(full, name, look, this.settings.server.jobFile, this.settings.server.settleTime * 1000);
    if (admission.kind === 'gone') return undefined;
    if (admission.kind === 'lose') return this.lose(full, name, admission.reason);
    if (admission.kind === 'refuse') return this.refuse(name, full, admission.reason);
    if (admission.kind === 'wait') {
      if (!this.awaited.has(name)) this.log.info({ job: name }, admission.reason);
      this.awaited.add(name);
      this.schedule(name, admission.ms);
      return undefined;
    }
    this.awaited.delete(name);
    const read = await readJob(full, name, look.top, this.settings.server, this.store, this.layout);
    if (read.kind === 'lose') return this.lose(full, name, read.reason);
    for (const w of read.warnings) this.log.warn({ job: name }, w);
    return read.job;
  }

  private async lose(full: string, name: string, reason: string): Promise<undefined> {
    let target: string;
    try {
      target = await moveToLostFound(this.layout, full, name, reason);
    } catch (err) {
      return this.refuse(name, full, `${reason}; and it cannot be moved to QM_lost+found: ${(err as Error).message}`);
    }
    this.log.warn({ job: name }, `${reason} → ${path.relative(this.layout.root, target)}`);
    return undefined;
  }

  /** Leaves the entry in QM_qJobs; says why once, until it changes. */
  private async refuse(name: string, full: string, reason: string): Promise<undefined> {
    if (await this.refusals.remember(name, full)) this.log.error({ job: name }, `left in QM_qJobs: ${reason}`);
    this.board?.touch(name);
    return undefined;
  }

  private removed(name: string): void {
    const pending = this.pending.get(name);
    if (pending?.timer) clearTimeout(pending.timer);
    this.pending.delete(name);
    this.refusals.forget(name);
    this.awaited.delete(name);
    this.board?.touch(name);
    this.departures.add(name);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    clearTimeout(this.batchTimer);
    this.departures.stop();
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    this.watcher?.close();
    // what waits for an unreachable Redis is taken up again by the next start's rescan
    await finishUnlessAway(this.redis, [...this.inFlight, this.board?.halt() ?? Promise.resolve()], 0);
    // no list of settling folders once this ingest is gone: the read model reads QM_qJobs
    if (this.board && this.redis.status === 'ready') await this.board.clear().catch(() => undefined);
    await this.reaper.stop();
    await this.store.close();
    this.redis.disconnect();
  }
}
