/**
 * Checks a picked job's `after` jobs (SPEC §2, §3) before it is claimed; the
 * processors reserved for it are given back at once when it does not run.
 * (A job whose dependencies were pending when it was queued was put aside
 * then — Lifecycle.queue; this check is for the rest.)
 * 1. all finished with code 0: it runs;
 * 2. one is still queued or running: the job is put aside (BullMQ delayed)
 *    and woken when that one finishes (JobStore.recordEnd); a slow re-check
 *    is only a safety net;
 * 3. one failed, was cancelled, timed out, was lost or is unknown: the job is
 *    not run (Lifecycle.notRun: QM_dJobs, marked `dependency failed`).
 */
import type { Lifecycle } from '../core/lifecycle.js';
import type { Logger } from '../core/log.js';
import { DEPENDENCY_RECHECK_MS, dependencyOf, dependencyVerdict, hasDependencies } from '../core/dependencies.js';
import type { Held } from './claim.js';
import { HELD_DELAY_MS } from '../core/bullmq-internals.js';

export class DependencyGate {
  constructor(
    private readonly lifecycle: Lifecycle,
    private readonly log: Logger,
  ) {}

  /** True when the job must not run now: it was put aside, or ended without running (its lock is let go). */
  async holds(held: Held): Promise<boolean> {
    if (!hasDependencies({ after: held.job.data.after ?? [], keys: held.job.data.keys ?? {} })) return false;
    try {
      return await this.check(held);
    } catch (err) {
      // cannot tell now (Redis away?): look again shortly, never run it unchecked
      this.log.warn({ job: held.job.data.name }, `dependencies not checked: ${(err as Error).message}; retrying`);
      clearInterval(held.lockTimer);
      await held.job.moveToDelayed(Date.now() + 2_000, held.token).catch(() => undefined);
      return true;
    }
  }

  private async check(held: Held): Promise<boolean> {
    const { job, token } = held;
    const { store, layout } = this.lifecycle;
    const after = dependencyOf(job.data);
    const verdict = await dependencyVerdict(store, layout, after);
    if (verdict.kind === 'run') return false;
    clearInterval(held.lockTimer);
    if (verdict.kind === 'fail') {
      await this.lifecycle.notRun(held, verdict.name, verdict.why);
      return true;
    }
    // delayed first, then listed: a job listed while still active would be woken for nothing
    // (its promote fails), and the end of a second job it waits for would then find it unlisted
    await job.moveToDelayed(Date.now() + DEPENDENCY_RECHECK_MS, token);
    for (const name of verdict.names) await store.addDependent(name, job.id!);
    // it may have finished between the check and the listing, before it could wake this job
    if ((await dependencyVerdict(store, layout, after)).kind !== 'wait') await job.promote().catch(() => undefined);
    this.log.info({ job: job.data.name }, `waiting for ${verdict.names.join(', ')}`);
    return true;
  }
}

/**
 * A job picked while still held or before its begin time (the end of a job
 * it waited for woke it early): back to BullMQ's delayed set, unrun. True then.
 */
export async function putBackUnreleased(held: Held): Promise<boolean> {
  const { held: isHeld, beginAt } = held.job.data;
  const now = Date.now();
  if (!isHeld && !(beginAt !== undefined && beginAt > now)) return false;
  clearInterval(held.lockTimer);
  await held.job.moveToDelayed(isHeld ? now + HELD_DELAY_MS : beginAt!, held.token).catch(() => undefined);
  return true;
}
