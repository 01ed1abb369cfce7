/**
 * Jobs append `start|end <ns> <nb_proc> <name>` lines to a shared file; the
 * tests read the real overlap of running jobs from it.
 */
import { readFileSync } from 'node:fs';

/** A script line that records its start and end around `body`. */
export function timedScript(file: string, nbProc: number, body = 'sleep 0.3'): string {
  return (
    `echo "start $(date +%s%N) ${nbProc} $QM_JOB_NAME" >> ${file}; ${body}; ` +
    `echo "end $(date +%s%N) ${nbProc} $QM_JOB_NAME" >> ${file}`
  );
}

export interface TimelineEvent {
  kind: 'start' | 'end';
  t: bigint;
  nbProc: number;
  name: string;
}

export function readTimeline(file: string): TimelineEvent[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [kind, t, nb, name] = line.split(' ');
      return { kind: kind as 'start' | 'end', t: BigInt(t!), nbProc: Number(nb), name: name! };
    })
    .sort((a, b) => (a.t === b.t ? (a.kind === 'end' ? -1 : 1) : a.t < b.t ? -1 : 1));
}

/** Largest sum of nb_proc and largest number of jobs running at the same time. */
export function peakUse(events: TimelineEvent[]): { processors: number; jobs: number } {
  let processors = 0;
  let jobs = 0;
  const peak = { processors: 0, jobs: 0 };
  for (const e of events) {
    processors += e.kind === 'start' ? e.nbProc : -e.nbProc;
    jobs += e.kind === 'start' ? 1 : -1;
    peak.processors = Math.max(peak.processors, processors);
    peak.jobs = Math.max(peak.jobs, jobs);
  }
  return peak;
}

export function startOrder(events: TimelineEvent[]): string[] {
  return events.filter((e) => e.kind === 'start').map((e) => e.name);
}
