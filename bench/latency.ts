/**
 * Sections 3 and 4: single jobs one after another on an otherwise idle QM.
 * Latency = from the moment the folder is complete in QM_qJobs to the first
 * instruction of its script (the script writes `date +%s%N` first).
 * - drop: the bench builds the folder in staging and renames it in; the time
 *   is taken right after the rename.
 * - submit: `qm submit` copies it in and renames it; the bench sees that
 *   rename through inotify (fs.watch on QM_qJobs). The wall time of each
 *   `qm submit` command (Node start-up included) is recorded too, and that
 *   of a `node -e 0` spawned the same way just before it: Node's own
 *   start-up on this machine, at this moment, to tell QM's part.
 * Each probe waits for the previous one's done record and a short pause.
 */
import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import type { Redis } from 'ioredis';
import { qmBin, type Site } from './env.js';
import { dropStaged, probeScript, probeStart, stageJob, waitRecorded } from './jobs.js';
import { summarize, type Summary } from './stats.js';
import { nowMs, sleep } from './wait.js';

/** Pause between probes, so each one meets an idle QM. */
const GAP_MS = 30;

export interface LatencyResult {
  via: 'drop' | 'submit';
  /** folder complete in QM_qJobs → script's first instruction, ms */
  latency: Summary;
  /** drop only: latency minus settle_time, what QM adds to the wait it is told to do */
  beyondSettle?: Summary;
  /** submit only: wall time of the `qm submit` command, ms */
  submitWall?: Summary;
  /** submit only: wall time of `node -e 0`, spawned before each `qm submit`, ms */
  nodeWall?: Summary;
  /** submit only: `qm submit` started → script's first instruction, ms */
  commandToStart?: Summary;
}

export async function dropLatency(site: Site, redis: Redis, count: number, prefix: string, settleSeconds: number): Promise<LatencyResult> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}`;
    stageJob(site, name, probeScript(site));
    const dropped = dropStaged(site, name);
    await waitRecorded(redis, name);
    samples.push(probeStart(site, name) - dropped);
    await sleep(GAP_MS);
  }
  return {
    via: 'drop',
    latency: summarize(samples),
    beyondSettle: summarize(samples.map((s) => s - settleSeconds * 1000)),
  };
}

export async function submitLatency(site: Site, redis: Redis, count: number, prefix: string): Promise<LatencyResult> {
  const appeared = new Map<string, number>();
  const watcher = watch(site.queued, (_event, file) => {
    if (file && !appeared.has(file)) appeared.set(file, nowMs());
  });
  const latency: number[] = [];
  const wall: number[] = [];
  const nodeWall: number[] = [];
  const fromCommand: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const name = `${prefix}-${i}`;
      const folder = stageJob(site, name, probeScript(site));
      const nodeStarted = nowMs();
      await runNode(['-e', '0']);
      nodeWall.push(nowMs() - nodeStarted);
      const started = nowMs();
      await runNode([qmBin(), '-c', site.cfg, 'submit', folder]);
      wall.push(nowMs() - started);
      await waitRecorded(redis, name);
      const start = probeStart(site, name);
      const complete = appeared.get(name);
      if (complete === undefined) throw new Error(`bench: never saw ${name} appear in ${site.queued}`);
      latency.push(start - complete);
      fromCommand.push(start - started);
      await sleep(GAP_MS);
    }
  } finally {
    watcher.close();
  }
  return {
    via: 'submit',
    latency: summarize(latency),
    submitWall: summarize(wall),
    nodeWall: summarize(nodeWall),
    commandToStart: summarize(fromCommand),
  };
}

/** `node ARGS`, until it exits (non-zero: an error with its stderr). */
function runNode(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node ${args.join(' ')} exited with ${code}: ${stderr.trim()}`))));
  });
}
