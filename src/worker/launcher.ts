/**
 * The launcher: a small process of its own that starts a worker's jobs.
 * Forking copies the page tables of the process that forks, so a spawn costs
 * in proportion to its memory: ~3 ms from a worker of 150 MB that also runs
 * Redis clients and the monitor, under 1 ms from this process, and none of it
 * on the worker's event loop.
 * 1. `run`: writes the header into the job's process.log (given to the
 *    folder's owner; `unwritableLog` when it cannot be opened), runs the script
 *    (runner.ts) and says `started`, `exited` once its process group is gone, then
 *    writes the footer and says `ended` with its code, its CPU time, what the
 *    run left running and was killed (core/leftovers.ts), and why it was
 *    stopped. A footer it could not write the worker writes, or says why not.
 * 1b. A job with a memory limit gets a memory cgroup (memory-cgroup.ts); where
 *    none can be made, its process.log says at the top that the limit is not
 *    enforced. After the run: whether the kernel killed in it for memory.
 * 2. `kill`: the job's group gets SIGTERM, SIGKILL after its grace period;
 *    its reason is the footer's (being abandoned overrides any other).
 * 3. When the worker goes (even by SIGKILL) the IPC channel closes: every
 *    job's group is killed and the launcher ends. When the launcher itself
 *    dies, its guard kills them (job-guard.ts).
 * Signals for the worker's terminal (Ctrl-C) are not for it: it runs in a
 * process group of its own and ignores them, and the worker decides.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { runScript, type RunningProcess } from './runner.js';
import { BatchedSweep } from '../core/leftovers.js';
import { Cpusets } from './cpuset.js';
import { MemoryCgroups, type MemoryCgroup } from './memory-cgroup.js';
import { formatMb } from '../core/resources.js';
import { appendFooter, ownedAsFolderSync } from '../core/process-log.js';
import { reportedTimeIn } from '../core/progress.js';
import { stopReasonAfter, type StopReason } from '../core/status.js';
import { JobGuard } from './job-guard.js';
import type { FromLauncher, ToLauncher, RunRequest } from './launch.js';

/**
 * the runs whose leftovers sweep has not ended, with why they were asked to
 * stop; `ended`: its process has (a kill from then on is not why it ended)
 */
const running = new Map<string, { proc: RunningProcess; stop?: StopReason; ended?: boolean }>();
/** leftovers of runs, found by QM_RUN_ID: one pass over /proc for the runs that end close together */
const sweep = new BatchedSweep();
/** pinning by cgroup cpuset where this process may make them, else taskset */
const cpusets = Cpusets.open();
/** memory limits by cgroup where this process may make them */
let memoryCgroups: MemoryCgroups | { why: string } | undefined;
const guard = new JobGuard();

/**
 * Messages for the worker, sent several to a write (each write wakes the
 * worker): those of one turn of the event loop together (the ends of one
 * sweep), and `started`, which only the worker's log line waits for, with
 * the next message (a short job's `exited`) or within STARTED_WAIT_MS.
 */
const STARTED_WAIT_MS = 10;
let outbox: FromLauncher[] = [];
let flushTimer: NodeJS.Timeout | undefined;
let flushSoon: NodeJS.Immediate | undefined;

function send(msg: FromLauncher): void {
  outbox.push(msg);
  if (msg.type === 'started') flushTimer ??= setTimeout(flush, STARTED_WAIT_MS);
  else flushSoon ??= setImmediate(flush);
}

function flush(): void {
  clearTimeout(flushTimer);
  clearImmediate(flushSoon);
  flushTimer = flushSoon = undefined;
  if (outbox.length > 0) process.send?.(outbox);
  outbox = [];
}

/** The job's memory cgroup, or the `QM:` line saying why its limit is not enforced. */
function memoryCgroupOf(req: RunRequest): MemoryCgroup | string | undefined {
  if (!req.memoryLimitMb) return undefined;
  memoryCgroups ??= MemoryCgroups.open();
  const made = memoryCgroups instanceof MemoryCgroups ? memoryCgroups.make(req.run, req.memoryLimitMb) : memoryCgroups;
  return 'why' in made ? `QM: memory limit of ${formatMb(req.memoryLimitMb)} not enforced: ${made.why}\n` : made;
}

async function run(req: RunRequest): Promise<void> {
  let logFd: number | undefined;
  let memory: MemoryCgroup | string | undefined;
  try {
    logFd = openSync(req.logPath, 'a');
    memory = memoryCgroupOf(req);
    ownedAsFolderSync(logFd, req.cwd, { owner: req.owner });
    writeSync(logFd, (typeof memory === 'string' ? memory : '') + req.header);
  } catch (err) {
    if (logFd !== undefined) closeSync(logFd);
    if (typeof memory === 'object') memory.remove();
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    // a log QM cannot write: the worker sends the folder to QM_lost+found, saying why
    if (logFd === undefined && code !== 'ENOENT') return send({ type: 'unwritableLog', run: req.run, code });
    // the folder left QM_Jobs before the job could start
    send({ type: 'exited', run: req.run });
    send({ type: 'ended', run: req.run, code: 127, cpu: undefined, leftovers: [] });
    return;
  }
  const proc = runScript({
    script: req.script,
    cwd: req.cwd,
    env: { ...process.env, ...req.vars },
    logFd,
    cpus: req.cpus,
    cpusets,
    memoryJoin: typeof memory === 'object' ? memory.joinFile : undefined,
    runAs: req.runAs,
    killGrace: req.killGrace,
  });
  if (proc.pid > 0) guard.watch(proc.pid);
  closeSync(logFd);
  const entry: { proc: RunningProcess; stop?: StopReason; ended?: boolean } = { proc };
  running.set(req.run, entry);
  send({ type: 'started', run: req.run });
  const { code, cpu } = await proc.done;
  entry.ended = true;
  if (proc.pid > 0) guard.forget(proc.pid);
  // its group is dead: its processors are free
  send({ type: 'exited', run: req.run });
  // nothing of this run outlives it (nor meets a requeued run of it)
  const leftovers = (await sweep.after(req.run, proc.pid)).map((l) => l.command);
  running.delete(req.run);
  const outOfMemory = typeof memory === 'object' && memory.oomKills() > 0;
  if (typeof memory === 'object') memory.remove();
  const endedAt = new Date();
  const { stop } = entry;
  let logged: { reportedTime?: number } | undefined;
  try {
    const tail = appendFooter(req.logPath, { code, endedAt, stop, leftovers, ...(outOfMemory && { outOfMemoryMb: req.memoryLimitMb }) }, req.owner);
    const reportedTime = reportedTimeIn(tail);
    logged = reportedTime === undefined ? {} : { reportedTime };
  } catch {
    // the worker writes it, or says why it cannot (its folder left QM_Jobs...)
  }
  send({ type: 'ended', run: req.run, code, cpu, leftovers, outOfMemory, endedAt: endedAt.getTime(), ...(stop && { stop }), ...(logged && { logged }) });
}

function stopRun(run: string, reason: StopReason): void {
  const entry = running.get(run);
  if (!entry || entry.ended) return;
  entry.stop = stopReasonAfter(entry.stop, reason);
  entry.proc.kill();
}

process.on('message', (msg: ToLauncher) => {
  if (msg.type === 'run') void run(msg);
  else if (msg.type === 'kill') stopRun(msg.run, msg.reason);
});

process.on('disconnect', () => {
  for (const { proc } of running.values()) {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  cpusets?.close();
  process.exit(0);
});

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) process.on(signal, () => undefined);
