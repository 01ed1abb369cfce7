/**
 * Entries that left QM_qJobs. Most were claimed by a worker a moment ago
 * (renamed into QM_Jobs): nothing to undo. One that was deleted by hand
 * while queued leaves the queue. They are looked at together, DEPARTED_MS
 * after the first: by then a claimed job's start has taken its name out of
 * the name index, so one read of the index for the batch clears them all,
 * and only a name still queued costs a look at QM_Jobs.
 */
import path from 'node:path';
import { exists, type Layout } from '../core/folders.js';
import type { JobStore } from '../core/jobstore.js';
import type { Logger } from '../core/log.js';

const DEPARTED_MS = 100;

export class Departures {
  private readonly names = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly layout: Layout,
    private readonly log: Logger,
    /** runs the batch's work, reporting its errors */
    private readonly track: (work: Promise<void>) => void,
  ) {}

  add(name: string): void {
    this.names.add(name);
    this.timer ??= setTimeout(() => this.track(this.settle()), DEPARTED_MS);
  }

  /** What is left unsettled at a stop is taken up by the next start's rescan. */
  stop(): void {
    clearTimeout(this.timer);
  }

  private async settle(): Promise<void> {
    this.timer = undefined;
    const names = [...this.names];
    this.names.clear();
    const ids = await this.store.queuedIds(names);
    for (const [i, name] of names.entries()) {
      // renamed into QM_Jobs: a worker claimed it, nothing to undo
      if (!ids[i] || (await exists(path.join(this.layout.running, name)))) continue;
      const id = await this.store.dropQueued(name);
      if (id) this.log.info({ job: name }, 'left QM_qJobs: no longer queued');
    }
  }
}
