/**
 * Is the worker that runs a job still alive? (SPEC §4)
 * 1. Its heartbeat `qm:worker:<name>` (written every HEARTBEAT_MS, expiring
 *    after HEARTBEAT_TTL_S) names the live process; another instance under
 *    that name means the one that ran the job is gone.
 * 2. On the same machine and pid namespace, its pid settles it: dead at once,
 *    alive only after a long silence.
 * 3. A missing heartbeat counts only once it has stayed missing for a while
 *    and this process could reach Redis all along: after an outage, a restart
 *    or a wipe of Redis, every worker first gets the time to beat again.
 * 4. A live worker whose heartbeat has long stopped listing a job does not run it.
 * Also: a worker starting under a name that a live worker uses is refused.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import type { JobStore } from './jobstore.js';
import type { Logger } from './log.js';
import type { RunningInfo } from './status.js';
import { HEARTBEAT_MS, HEARTBEAT_TTL_S, type Heartbeat } from './heartbeat.js';

/**
 * A heartbeat missing this long (Redis reachable) means its worker is gone.
 * The key expires HEARTBEAT_TTL_S after the last beat; the margin covers a
 * wipe of Redis between two beats of a busy worker. On the worker's own
 * machine its pid says more: dead is gone at once, alive gets much longer.
 */
const MISSING_MS = 2 * HEARTBEAT_MS + 1_000;
const MISSING_ALIVE_PID_MS = 3 * HEARTBEAT_TTL_S * 1000;
/** A job its live worker has not listed for this long is not running there. */
const UNLISTED_MS = 15_000;

/**
 * This machine's boot and pid namespace: two processes with the same value
 * see the same pids. Empty where /proc does not tell (then pids are not compared).
 */
export const pidSpace: string = (() => {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}/${readlinkSync('/proc/self/ns/pid')}`;
  } catch {
    return '';
  }
})();

/** Does process `pid` of this pid space still exist (a zombie counts as dead)? */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export type Verdict = { state: 'alive' } | { state: 'unknown' } | { state: 'gone'; why: string };

/** Judges the owners of running jobs from their heartbeats; keeps what it saw between calls. */
export class OwnerWatch {
  /** `name/instance` → when its heartbeat was first seen missing */
  private readonly missingSince = new Map<string, number>();

  constructor(private readonly store: JobStore) {}

  /** Verdicts for the owners of `infos`, by job id. */
  async judge(infos: RunningInfo[], now = Date.now()): Promise<Map<string, Verdict>> {
    const beats = await this.store.heartbeats(infos.map((i) => i.worker));
    const seen = new Set<string>();
    const verdicts = new Map<string, Verdict>();
    for (const info of infos) {
      const owner = `${info.worker}/${info.instance}`;
      seen.add(owner);
      verdicts.set(info.id, this.verdict(info, beats.get(info.worker), owner, now));
    }
    for (const owner of this.missingSince.keys()) if (!seen.has(owner)) this.missingSince.delete(owner);
    return verdicts;
  }

  /** Has this process reached Redis without a break for a heartbeat's lifetime? */
  steady(now = Date.now()): boolean {
    return this.store.steadyFor(HEARTBEAT_TTL_S * 1000, now);
  }

  private verdict(info: RunningInfo, hb: Heartbeat | undefined, owner: string, now: number): Verdict {
    const who = `${info.worker} on ${info.host}`;
    if (hb) {
      this.missingSince.delete(owner);
      if (hb.instance !== info.instance) return { state: 'gone', why: `${who} was restarted` };
      if (hb.pidSpace && hb.pidSpace === pidSpace && !pidAlive(hb.pid)) {
        return { state: 'gone', why: `${who} died (pid ${hb.pid})` };
      }
      if (!hb.jobs.includes(info.id) && hb.beatAt - info.startedAt > UNLISTED_MS) {
        return { state: 'gone', why: `${who} no longer runs it` };
      }
      return { state: 'alive' };
    }
    const local = !!info.pidSpace && info.pidSpace === pidSpace;
    if (local && !pidAlive(info.pid)) return { state: 'gone', why: `${who} died (pid ${info.pid})` };
    if (!this.steady(now)) {
      this.missingSince.delete(owner);
      return { state: 'unknown' };
    }
    const since = this.missingSince.get(owner) ?? now;
    this.missingSince.set(owner, since);
    if (now - since < (local ? MISSING_ALIVE_PID_MS : MISSING_MS)) return { state: 'unknown' };
    return { state: 'gone', why: `${who} stopped sending its heartbeat` };
  }
}

export class WorkerNameTaken extends Error {}

/**
 * Waits until no other live process uses worker name `name`: a dead one's
 * heartbeat is ignored (same machine) or left to lapse (elsewhere); a live
 * one's makes this throw WorkerNameTaken.
 */
export async function takeWorkerName(store: JobStore, name: string, instance: string, log: Logger): Promise<void> {
  const deadline = Date.now() + (HEARTBEAT_TTL_S + 2) * 1000;
  let lastTtl = Number.POSITIVE_INFINITY;
  let told = false;
  for (;;) {
    const beat = await store.heartbeatOf(name);
    if (!beat || beat.hb.instance === instance) return;
    const { hb, ttlMs: ttl } = beat;
    const local = hb.pidSpace !== '' && hb.pidSpace === pidSpace;
    if (local && !pidAlive(hb.pid)) return;
    const taken = () =>
      new WorkerNameTaken(
        `worker_name ${name} is in use by a running worker (${hb.host}, pid ${hb.pid}); give each worker its own name`,
      );
    if ((local && hb.pid !== process.pid) || ttl > lastTtl + 500 || Date.now() > deadline) throw taken();
    if (ttl < 0) return;
    lastTtl = ttl;
    if (!told) log.info(`a worker named ${name} was running on ${hb.host} (pid ${hb.pid}); waiting for its heartbeat to lapse`);
    told = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}
