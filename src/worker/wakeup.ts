/**
 * Wakes a worker's fetch loop when something may let it start a job: a job
 * ended, the queue changed (BullMQ's event stream), the worker stops. A
 * wake-up that comes while the loop is busy is kept for its next wait, so
 * none is lost.
 */
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../core/log.js';
import { BULL_PREFIX, QUEUE_NAME } from '../core/redis.js';

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

/**
 * Notifies `wakeup` at every change of the queue a worker may act on. BullMQ
 * reads the event stream on a duplicate of `connection`, which it closes.
 */
export function wakeOnQueueChanges(connection: Redis, wakeup: Wakeup, log: Logger): QueueEvents {
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: BULL_PREFIX });
  for (const event of ['added', 'waiting', 'active', 'delayed', 'removed', 'resumed'] as const) {
    events.on(event, () => wakeup.notify());
  }
  events.on('error', (err) => log.debug(`queue events: ${err.message}`));
  return events;
}
