/**
 * Jobs as the bench makes them:
 * 1. trivial job folders (a proc_config.cfg and nothing else) built in the
 *    staging folder, so dropping one into QM_qJobs is a single rename, as `mv`;
 * 2. probes, whose script first writes its start time (`date +%s%N`);
 * 3. waits on QM's Redis records for jobs to be done.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { keys } from '../src/core/redis.js';
import type { Site } from './env.js';
import { nowMs, waitUntil } from './wait.js';

export function descriptor(script: string, priority = 0): string {
  return `[QMOptions]\nscript : ${script}\nnb_proc : 1\npriority : ${priority}\n`;
}

/** Builds the job folder `name` in the staging folder; returns its path. */
export function stageJob(site: Site, name: string, script: string, priority = 0): string {
  const dir = path.join(site.staging, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'proc_config.cfg'), descriptor(script, priority));
  return dir;
}

/** Moves a staged folder into QM_qJobs; returns the wall-clock time (ms) right after the rename. */
export function dropStaged(site: Site, name: string): number {
  renameSync(path.join(site.staging, name), path.join(site.queued, name));
  return nowMs();
}

/** A script line whose first instruction records when it started. */
export function probeScript(site: Site): string {
  return `date +%s%N > ${site.stamps}/$QM_JOB_NAME`;
}

/** When the probe's script started (wall-clock ms, microsecond resolution). */
export function probeStart(site: Site, name: string): number {
  const ns = BigInt(readFileSync(path.join(site.stamps, name), 'utf8').trim());
  return Number(ns / 1000n) / 1000;
}

export async function waitRecorded(redis: Redis, name: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(async () => (await redis.hexists(keys.doneByName, name)) === 1, timeoutMs, `${name} to be done`, 5);
}

export function countEntries(dir: string): number {
  return readdirSync(dir).filter((n) => !n.startsWith('.')).length;
}

/**
 * Waits until `count` jobs have done records; fails early when jobs land in
 * QM_lost+found. Returns the wall-clock time it saw the last one.
 */
export async function waitAllRecorded(redis: Redis, site: Site, count: number, timeoutMs: number): Promise<number> {
  let checks = 0;
  await waitUntil(
    async () => {
      if (++checks % 100 === 0 && countEntries(site.lost) > 0) {
        throw new Error(`bench: jobs went to ${site.lost}: ${readdirSync(site.lost).slice(0, 3).join(', ')}`);
      }
      return (await redis.zcard(keys.done)) >= count;
    },
    timeoutMs,
    `${count} done jobs in ${site.done}`,
    10,
  );
  return nowMs();
}
