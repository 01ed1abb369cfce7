/** Per owner totals over done records: `qm stats`, the monitor's /stats. */
import type { DoneRecord } from './status.js';

/** Per owner (the jobs' e_mail; null without one), over done records. */
export interface OwnerStats {
  owner: string | null;
  jobs: number;
  succeeded: number;
  failed: number;
  /** over the jobs that ran (have an elapsed time) */
  ran: number;
  elapsedSeconds: number;
  meanElapsedSeconds: number | null;
  cpuSeconds: number;
  meanCpuSeconds: number | null;
}

export function ownerStats(records: DoneRecord[]): OwnerStats[] {
  const byOwner = new Map<string | null, DoneRecord[]>();
  for (const r of records) {
    const owner = r.email ?? null;
    const list = byOwner.get(owner) ?? [];
    if (list.length === 0) byOwner.set(owner, list);
    list.push(r);
  }
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  return [...byOwner]
    .map(([owner, recs]): OwnerStats => {
      const ran = recs.filter((r) => r.elapsed !== undefined);
      const withCpu = recs.filter((r) => r.cpu !== undefined);
      const elapsedSeconds = sum(ran.map((r) => r.elapsed!));
      const cpuSeconds = sum(withCpu.map((r) => r.cpu!));
      const succeeded = recs.filter((r) => r.outcome.kind === 'success').length;
      return {
        owner,
        jobs: recs.length,
        succeeded,
        failed: recs.length - succeeded,
        ran: ran.length,
        elapsedSeconds,
        meanElapsedSeconds: ran.length > 0 ? elapsedSeconds / ran.length : null,
        cpuSeconds,
        meanCpuSeconds: withCpu.length > 0 ? cpuSeconds / withCpu.length : null,
      };
    })
    .sort((a, b) => b.jobs - a.jobs || (a.owner ?? '').localeCompare(b.owner ?? ''));
}
