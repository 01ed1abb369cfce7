/**
 * Section 2: N trivial jobs (`script : true`) built in the staging folder and
 * renamed into QM_qJobs all at once, timed until every one has its done
 * record (its folder is then in QM_dJobs).
 */
import type { Redis } from 'ioredis';
import type { Site } from './env.js';
import { countEntries, dropStaged, stageJob, waitAllRecorded } from './jobs.js';
import { round3 } from './baseline.js';
import { nowMs } from './wait.js';

export interface ThroughputResult {
  jobs: number;
  /** first rename into QM_qJobs → last done record */
  seconds: number;
  jobsPerSecond: number;
  /** how long the bench took to rename them all in */
  dropSeconds: number;
}

export async function throughput(site: Site, redis: Redis, jobs: number, prefix: string): Promise<ThroughputResult> {
  const names = Array.from({ length: jobs }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`);
  for (const name of names) stageJob(site, name, 'true');
  const t0 = nowMs();
  let dropped = t0;
  for (const name of names) dropped = dropStaged(site, name);
  const end = await waitAllRecorded(redis, site, jobs, Math.max(120_000, jobs * 100));
  const inDone = countEntries(site.done);
  if (inDone < jobs) throw new Error(`bench: ${jobs} jobs recorded but only ${inDone} folders in ${site.done}`);
  const seconds = (end - t0) / 1000;
  return { jobs, seconds: round3(seconds), jobsPerSecond: Math.round(jobs / seconds), dropSeconds: round3((dropped - t0) / 1000) };
}
