/**
 * Wakes a worker's fetch loop when something may let it start a job: a job
 * ended, the queue changed (BullMQ's event stream, QueueWatch), the worker stops. A
 * wake-up that comes while the loop is busy is kept for its next wait, so
 * none is lost.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../core/log.js';
import { mayLetAJobStart } from '../core/bullmq-internals.js';

export class Wakeup {
  private pending = false;
  private wake: (() => void) | undefined;

  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    if (wake) wake();
    else this.pending = true;
  }

  /** Resolves at the next notify (at once if one came since the last wait), or after timeoutMs. */
  wait(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, Math.max(0, timeoutMs));
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** How long one read of the event stream blocks (a read in flight is also how a re-armed watch goes on). */
const BLOCK_MS = 5_000;

type StreamReply = Array<[string, Array<[string, string[]]>]> | null;

/**
 * Wakes a worker that waits with processors free at the first change of the
 * queue since it last looked: BullMQ's event stream is read from the id its
 * pick returned. A worker whose processors are all taken, or that is about to
 * look again, reads no events (a burst of jobs costs it nothing here).
 */
export class QueueWatch {
  /** read events after this id; undefined: events do not matter now */
  private after: string | undefined;
  private reading = false;
  private closed = false;

  constructor(
    /** a connection of its own: the reads block */
    private readonly redis: Redis,
    /** BullMQ's event stream */
    private readonly stream: string,
    private readonly wakeup: Wakeup,
    private readonly log: Logger,
  ) {}

  /** Wakes the worker at the first event after `lastId` that may let it start a job. */
  watchAfter(lastId: string): void {
    this.after = lastId;
    if (!this.reading) void this.read();
  }

  /** The worker looks at the queue itself now. */
  ignore(): void {
    this.after = undefined;
  }

  close(): void {
    this.closed = true;
    this.redis.disconnect();
  }

  private async read(): Promise<void> {
    this.reading = true;
    try {
      while (this.after !== undefined && !this.closed) {
        const from = this.after;
        const reply = (await this.redis.xread('COUNT', 100, 'BLOCK', BLOCK_MS, 'STREAMS', this.stream, from)) as StreamReply;
        // watched again from a later id meanwhile: read from there
        if (this.after !== from) continue;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        this.after = entries.at(-1)![0];
        if (mayLetAJobStart(entries)) {
          this.after = undefined;
          this.wakeup.notify();
        }
      }
    } catch (err) {
      // Redis away: the worker's recheck looks at the queue meanwhile
      if (!this.closed) this.log.debug(`queue events: ${(err as Error).message}`);
      this.after = undefined;
    } finally {
      this.reading = false;
    }
  }
}
