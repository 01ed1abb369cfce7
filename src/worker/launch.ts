/**
 * The worker's side of its launcher (launcher.ts), the small process that
 * starts its jobs.
 * 1. Forked when the worker starts, again for the next job after it died; in
 *    a process group of its own so that the terminal's Ctrl-C reaches the
 *    worker only.
 * 2. `run` sends a job and returns how it ends; `kill` forwards a kill.
 * 3. If the launcher dies, its jobs are gone (its guard kills them): each
 *    ends with 128+9 and a note for its process.log.
 * 4. `close` lets it go once the worker's jobs have ended.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/log.js';
import type { JobOwner, StopReason } from '../core/status.js';
import type { RunAs, RunResult } from './runner.js';

export interface RunRequest {
  type: 'run';
  /** the run's QM_RUN_ID: names the run in the messages, finds its leftovers */
  run: string;
  script: string;
  cwd: string;
  /** added to the worker's environment */
  vars: Record<string, string>;
  logPath: string;
  /** written to process.log before the script starts */
  header: string;
  cpus: number[];
  /** MB the job may use, enforced by a memory cgroup where one can be made */
  memoryLimitMb?: number;
  /** the job's user, when not the worker's */
  runAs?: RunAs;
  /** the folder's owner, as queued: who QM's lines in process.log belong to under a root worker */
  owner?: JobOwner;
  killGrace: number;
}

/** `kill` says why: the footer's `Reason:` when the run ends by it. */
export type ToLauncher = RunRequest | { type: 'kill'; run: string; reason: StopReason };
/** The launcher sends these in arrays, several to a message. */
export type FromLauncher =
  | { type: 'started'; run: string }
  | { type: 'exited'; run: string }
  /** process.log could not be opened for writing (`code`: EISDIR, EACCES...): the script never ran */
  | { type: 'unwritableLog'; run: string; code: string }
  | ({ type: 'ended'; run: string } & Omit<Launched, 'note' | 'unwritableLog'>);

export interface Launched extends RunResult {
  /** the commands of the processes the run left running, killed */
  leftovers: string[];
  /** why the run ended outside the job's control */
  note?: string;
  /** the kernel killed one of its processes for going over its memory limit */
  outOfMemory?: boolean;
  /** it never ran: process.log could not be opened for writing (the error's code) */
  unwritableLog?: string;
  /** when the run ended (ms), as its footer says */
  endedAt?: number;
  /** why it was stopped, when a kill came before its end */
  stop?: StopReason;
  /** the footer is in process.log: written by the launcher, with the last `time: N` the job reported */
  logged?: { reportedTime?: number };
}

export interface LaunchedJob {
  /** its header is in process.log and its script runs (never, if it could not start) */
  started: Promise<void>;
  /** the job's processes have ended: its processors are free */
  exited: Promise<void>;
  /** the run is over: leftovers killed, code and CPU time known */
  done: Promise<Launched>;
  /** SIGTERM to the job's group now, SIGKILL after its grace period */
  kill(reason: StopReason): void;
}

const LAUNCHER = fileURLToPath(new URL('./launcher.js', import.meta.url));

export class Launcher {
  private child: ChildProcess | undefined;
  /** runs not ended yet, with the launcher that runs them */
  private readonly pending = new Map<string, { child: ChildProcess; started(): void; exited(): void; ended(result: Launched): void }>();

  constructor(
    private readonly log: Logger,
    /** the launcher's script (its build sits beside this module's) */
    private readonly script = LAUNCHER,
  ) {}

  /** Forks the launcher now, so that the first job does not wait for it. */
  start(): void {
    this.child ??= this.fork();
  }

  run(req: Omit<RunRequest, 'type'>): LaunchedJob {
    const child = this.child ?? this.fork();
    let started!: () => void;
    let exited!: () => void;
    let ended!: (result: Launched) => void;
    const job: LaunchedJob = {
      started: new Promise<void>((resolve) => (started = resolve)),
      exited: new Promise<void>((resolve) => (exited = resolve)),
      done: new Promise<Launched>((resolve) => (ended = resolve)),
      kill: (reason) => this.child && this.send(this.child, { type: 'kill', run: req.run, reason }),
    };
    this.pending.set(req.run, { child, started, exited, ended });
    this.send(child, { type: 'run', ...req });
    return job;
  }

  /** The launcher's pid, once it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Lets the launcher end (after the worker's jobs have ended). */
  close(): void {
    const child = this.child;
    this.child = undefined;
    if (child?.connected) child.disconnect();
  }

  private fork(): ChildProcess {
    const child = fork(this.script, [], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // none of the worker's node flags (`node -e CODE` would run CODE again)
      // but its profiling, so that `npm run bench -- --cpu-prof` sees the launchers too
      // A small young generation: a fork copies the launcher's page tables, so
      // each job's spawn costs in proportion to the launcher's resident memory
      execArgv: ['--max-semi-space-size=1', ...process.execArgv.filter((flag) => flag.startsWith('--cpu-prof'))],
    });
    this.child = child;
    child.on('message', (batch: FromLauncher[]) => {
      for (const msg of batch) this.receive(msg);
    });
    child.on('error', (err) => this.log.debug(`job launcher: ${err.message}`));
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const orphans = [...this.pending].filter(([, run]) => run.child === child);
      if (orphans.length === 0) return;
      this.log.error(`job launcher ended (${signal ?? `code ${code}`}): its ${orphans.length} running job(s) were killed`);
      for (const [id, run] of orphans) {
        this.pending.delete(id);
        run.exited();
        run.ended({ code: 128 + 9, cpu: undefined, leftovers: [], note: "QM's job launcher died: the job was killed" });
      }
    });
    return child;
  }

  private receive(msg: FromLauncher): void {
    const run = this.pending.get(msg.run);
    if (msg.type === 'started') return run?.started();
    if (msg.type === 'exited') return run?.exited();
    this.pending.delete(msg.run);
    if (msg.type === 'unwritableLog') {
      run?.exited();
      return run?.ended({ code: 127, cpu: undefined, leftovers: [], unwritableLog: msg.code });
    }
    const { type: _type, run: _run, ...result } = msg;
    run?.ended(result);
  }

  private send(child: ChildProcess, msg: ToLauncher): void {
    // a launcher that died meanwhile: its exit settles the pending runs
    child.send(msg, (err) => err && this.log.debug(`job launcher: ${err.message}`));
  }
}
