/**
 * `qm stats [--json]` (SPEC §6, like the monitor's /stats): per owner (the
 * jobs' e_mail), over the done records Redis keeps (keep_done): jobs, how
 * many succeeded, total and mean elapsed time, total and mean CPU time.
 */
import type { Settings } from '../core/settings-types.js';
import { keys } from '../core/redis.js';
import { clock } from '../core/format.js';
import type { DoneRecord } from '../core/status.js';
import { withClient } from './client.js';
import { table } from './table.js';

export interface OwnerStats {
  /** the jobs' e_mail; null for jobs without one */
  owner: string | null;
  jobs: number;
  succeeded: number;
  failed: number;
  /** over the jobs that ran */
  elapsedSeconds: number;
  meanElapsedSeconds: number | null;
  cpuSeconds: number;
  meanCpuSeconds: number | null;
}

const CHUNK = 1000;

export async function stats(settings: Settings, opts: { json?: boolean }): Promise<void> {
  const owners = await withClient(settings, async ({ store }) => {
    const ids = await store.redis.zrange(keys.done, 0, -1);
    const byOwner = new Map<string | null, DoneRecord[]>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      for (const rec of await store.records(ids.slice(i, i + CHUNK))) {
        const owner = rec.email ?? null;
        const list = byOwner.get(owner) ?? [];
        if (list.length === 0) byOwner.set(owner, list);
        list.push(rec);
      }
    }
    return [...byOwner].map(([owner, recs]) => summarize(owner, recs)).sort((a, b) => b.jobs - a.jobs);
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ version: 1, owners }, null, 2)}\n`);
    return;
  }
  if (owners.length === 0) {
    process.stdout.write('no finished jobs recorded\n');
    return;
  }
  const time = (s: number | null) => (s === null ? '-' : clock(s));
  process.stdout.write(
    table(
      ['OWNER', 'JOBS', 'OK', 'FAILED', 'ELAPSED', 'MEAN', 'CPU', 'MEAN CPU'],
      owners.map((o) => [o.owner ?? '(none)', String(o.jobs), String(o.succeeded), String(o.failed),
        clock(o.elapsedSeconds), time(o.meanElapsedSeconds), clock(o.cpuSeconds), time(o.meanCpuSeconds)]),
    ),
  );
}

export function summarize(owner: string | null, recs: DoneRecord[]): OwnerStats {
  const ran = recs.filter((r) => r.elapsed !== undefined);
  const withCpu = recs.filter((r) => r.cpu !== undefined);
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const elapsedSeconds = sum(ran.map((r) => r.elapsed!));
  const cpuSeconds = sum(withCpu.map((r) => r.cpu!));
  const succeeded = recs.filter((r) => r.outcome.kind === 'success').length;
  return {
    owner,
    jobs: recs.length,
    succeeded,
    failed: recs.length - succeeded,
    elapsedSeconds,
    meanElapsedSeconds: ran.length > 0 ? elapsedSeconds / ran.length : null,
    cpuSeconds,
    meanCpuSeconds: withCpu.length > 0 ? cpuSeconds / withCpu.length : null,
  };
}
