/** `npm run bench -- [options]`: what to measure and how much of it. */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './env.js';

export const SECTIONS = ['baseline', 'idle', 'throughput', 'latency', 'scale', 'monitor', 'array'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  /** jobs of the throughput runs (and spawns of the baseline) */
  jobs: number;
  /** probes of each latency measure */
  latencyJobs: number;
  /** probes of each latency measure with the long queue */
  scaleJobs: number;
  /** jobs held in the queue for the scale and monitor sections */
  queued: number;
  idleSeconds: number;
  /** settle_time of every QM the bench runs */
  settle: number;
  /** GETs of each monitor page */
  requests: number;
  /** tasks of the job array (`qm submit --array 1-N`) */
  arrayTasks: number;
  /** runs of `qm status` with the long queue */
  statusRuns: number;
  /** processors of `qm start`, and of the two workers together */
  budget: number;
  sections: Set<Section>;
  out: string;
  keep: boolean;
  /** another build's dist/cli.js to measure instead of this repository's */
  qm: string | undefined;
  /** folder for V8 CPU profiles of the QM processes (node --cpu-prof) */
  cpuProf: string | undefined;
}

export const USAGE = `usage: npm run bench -- [options]
  --jobs N            jobs per throughput run, spawns of the baseline (2000)
  --latency-jobs N    probes per latency measure (200)
  --scale-jobs N      probes per latency measure with the long queue (100)
  --queued N          jobs held in the queue for scale and monitor (10000)
  --idle-seconds S    length of the idle CPU measure (30)
  --settle S          settle_time of the QM under test (0.1)
  --requests N        GETs per monitor page (50)
  --array-tasks N     tasks of the job array (10000)
  --status-runs N     runs of qm status with the long queue (5)
  --budget N          MaxNbProcessors (the number of CPUs)
  --only LIST         some of: ${SECTIONS.join(',')}
  --quick             small counts for a smoke run (jobs 50, latency 10, scale 5, queued 200, idle 2 s, array 50 tasks, status 2 runs)
  --out FILE          results file (bench/results.json)
  --keep              keep the temp folder (logs, QM folders)
  --cpu-prof DIR      write V8 CPU profiles of the QM processes to DIR
  --qm FILE           measure another build (its dist/cli.js), e.g. to compare with main`;

export class OptionsError extends Error {}

export function parseOptions(argv: string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        jobs: { type: 'string' },
        'latency-jobs': { type: 'string' },
        'scale-jobs': { type: 'string' },
        queued: { type: 'string' },
        'idle-seconds': { type: 'string' },
        settle: { type: 'string' },
        requests: { type: 'string' },
        'array-tasks': { type: 'string' },
        'status-runs': { type: 'string' },
        budget: { type: 'string' },
        only: { type: 'string' },
        quick: { type: 'boolean' },
        out: { type: 'string' },
        keep: { type: 'boolean' },
        'cpu-prof': { type: 'string' },
        qm: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new OptionsError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) throw new OptionsError('');
  const quick = v.quick === true;
  const count = (name: string, raw: string | undefined, fallback: number, min = 1): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new OptionsError(`--${name} ${raw}: expected an integer >= ${min}`);
    return n;
  };
  const seconds = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new OptionsError(`--${name} ${raw}: expected a number of seconds >= 0`);
    return n;
  };
  const sections = new Set<Section>(SECTIONS);
  if (v.only !== undefined) {
    sections.clear();
    for (const word of v.only.split(',').map((w) => w.trim())) {
      if (!(SECTIONS as readonly string[]).includes(word)) throw new OptionsError(`--only ${v.only}: unknown section ${word}; expected some of ${SECTIONS.join(',')}`);
      sections.add(word as Section);
    }
  }
  return {
    jobs: count('jobs', v.jobs, quick ? 50 : 2000),
    latencyJobs: count('latency-jobs', v['latency-jobs'], quick ? 10 : 200),
    scaleJobs: count('scale-jobs', v['scale-jobs'], quick ? 5 : 100),
    queued: count('queued', v.queued, quick ? 200 : 10_000),
    idleSeconds: seconds('idle-seconds', v['idle-seconds'], quick ? 2 : 30),
    settle: seconds('settle', v.settle, 0.1),
    requests: count('requests', v.requests, quick ? 5 : 50),
    arrayTasks: count('array-tasks', v['array-tasks'], quick ? 50 : 10_000),
    statusRuns: count('status-runs', v['status-runs'], quick ? 2 : 5),
    budget: count('budget', v.budget, os.availableParallelism()),
    sections,
    out: path.resolve(v.out ?? path.join(repoRoot(), 'bench', 'results.json')),
    keep: v.keep === true,
    cpuProf: v['cpu-prof'] === undefined ? undefined : path.resolve(v['cpu-prof']),
    qm: v.qm,
  };
}
