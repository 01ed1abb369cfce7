/**
 * The folders the active ingest sees settling, kept in Redis for the read
 * model (`/`, `qm status`, the API): it reads that short list instead of all
 * of QM_qJobs and the whole name index, which with a long queue cost more
 * than everything else on the page.
 * 1. A name is on the list while the ingest has it on its way (settling,
 *    settled, being read) or left it in QM_qJobs (refused): what the ingest
 *    has seen in QM_qJobs and not queued yet.
 * 2. The role says which names changed; their state goes to Redis a moment
 *    later, a few writes at a time (one flush at a time, the changes of a
 *    burst together).
 * 3. Only the lease's holder writes (JobStore.publishSettling refuses the
 *    others'), and the list counts only once it is whole: after the role's
 *    first look at all of QM_qJobs. A write refused or lost (Redis away, the
 *    lease lapsed, Redis wiped) makes the next flush write the list anew.
 * 4. Stopping clears it: with no list, the read model reads the folder.
 */
import type { JobStore } from '../core/jobstore.js';
import type { Logger } from '../core/log.js';

/** How long changes gather before they are written. */
const FLUSH_MS = 20;

export interface SettlingSource {
  /** is `name` on its way (or left in QM_qJobs) now? */
  isSettling(name: string): boolean;
  /** every such name now */
  settlingNow(): Iterable<string>;
}

export class SettlingBoard {
  /** the names on the list in Redis, as last written */
  private readonly written = new Set<string>();
  /** names whose state may have changed since */
  private readonly changed = new Set<string>();
  /** `written` is what Redis holds: else the next flush writes the list anew */
  private inStep = false;
  /** the role has looked at all of QM_qJobs once: the list may say it is whole */
  private whole = false;
  /** the list in Redis says it is whole */
  private saidWhole = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: JobStore,
    private readonly lease: string,
    private readonly source: SettlingSource,
    private readonly log: Logger,
  ) {}

  /** `name` may have started or stopped settling. */
  touch(name: string): void {
    this.changed.add(name);
    this.soon();
  }

  /**
   * The role has just looked at all of QM_qJobs (a rescan): from now on the
   * list is whole. Also checks that Redis still holds it as written (a wiped
   * or replaced Redis has lost it).
   */
  async scanned(): Promise<void> {
    if (this.stopped) return;
    this.whole = true;
    if (this.inStep && this.saidWhole) {
      // unknown (Redis away): written anew once it answers
      const publisher = await this.store.settlingPublisher().catch(() => undefined);
      if (publisher !== this.lease) this.inStep = false;
    }
    if (!this.inStep || !this.saidWhole) this.soon();
  }

  private soon(): void {
    if (this.stopped || this.timer || this.flushing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flush()
        .catch((err: Error) => {
          this.inStep = false;
          this.log.debug(`list of settling folders not written: ${err.message}`);
          return false;
        })
        .then((written) => {
          this.flushing = undefined;
          // what changed meanwhile; after a failure, the next rescan tries again
          if (written && (this.changed.size > 0 || !this.inStep || (this.whole && !this.saidWhole))) this.soon();
        });
    }, FLUSH_MS);
  }

  /** False when Redis refused it (this ingest does not hold the lease now). */
  private async flush(): Promise<boolean> {
    if (this.stopped) return false;
    const whole = this.whole;
    if (!this.inStep) {
      this.changed.clear();
      const names = [...new Set(this.source.settlingNow())];
      const ok = await this.store.publishSettling(this.lease, { fresh: true, whole, left: [], joined: names });
      this.written.clear();
      if (!ok) return false;
      for (const n of names) this.written.add(n);
      this.inStep = true;
      this.saidWhole = whole;
      return true;
    }
    const left: string[] = [];
    const joined: string[] = [];
    for (const name of this.changed) {
      const now = this.source.isSettling(name);
      if (now && !this.written.has(name)) joined.push(name);
      else if (!now && this.written.has(name)) left.push(name);
    }
    this.changed.clear();
    const sayWhole = whole && !this.saidWhole;
    if (left.length === 0 && joined.length === 0 && !sayWhole) return true;
    // counted as written before the answer: a failure starts the list anew anyway
    for (const n of left) this.written.delete(n);
    for (const n of joined) this.written.add(n);
    const ok = await this.store.publishSettling(this.lease, { fresh: false, whole: sayWhole, left, joined });
    if (!ok) {
      this.inStep = false;
      return false;
    }
    if (sayWhole) this.saidWhole = true;
    return true;
  }

  /** Stops writing; the flush under way, if any, to wait for. */
  halt(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.flushing ?? Promise.resolve();
  }

  /** Clears the list (after halt()), if this ingest still holds the lease. */
  async clear(): Promise<void> {
    await this.store.publishSettling(this.lease, { fresh: true, whole: false, left: [], joined: [] });
  }
}
