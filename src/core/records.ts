/**
 * A finished job's record (DoneRecord), built here and nowhere else, from
 * what is known of the job when it ends: what was queued, how it ran (if it
 * did), where its folder went and how it ended.
 */
import type { DoneRecord, Outcome, QueuedJob, StopReason } from './status.js';

export interface RecordFacts {
  id: string;
  name: string;
  /** what the queue held of it, when known */
  job?: Partial<Pick<QueuedJob, 'info' | 'email' | 'nbProc' | 'priority' | 'enqueuedAt' | 'owner'>>;
  /** when it started and where, if it ran; nbProc: the processors it was granted */
  run?: { startedAt: number; worker?: string; host?: string; nbProc?: number };
  endedAt: number;
  /** seconds of CPU of its process tree */
  cpu?: number;
  /** its last `time: N` */
  reportedTime?: number;
  /** where its folder is now, relative to QM_FOLDER */
  folder: string;
  outcome: Outcome;
}

export function doneRecord(f: RecordFacts): DoneRecord {
  return {
    id: f.id,
    name: f.name,
    info: f.job?.info,
    email: f.job?.email,
    nbProc: f.run?.nbProc ?? f.job?.nbProc ?? 1,
    priority: f.job?.priority ?? 0,
    worker: f.run?.worker,
    host: f.run?.host,
    enqueuedAt: f.job?.enqueuedAt,
    startedAt: f.run?.startedAt,
    endedAt: f.endedAt,
    elapsed: f.run ? (f.endedAt - f.run.startedAt) / 1000 : undefined,
    cpu: f.cpu,
    reportedTime: f.reportedTime,
    folder: f.folder,
    outcome: f.outcome,
    ...(f.job?.owner ? { owner: f.job.owner } : {}),
  };
}

/** How a run ended, from its exit code and why QM stopped it (if it did). */
export function runOutcome(code: number, stop: StopReason | undefined): Outcome {
  if (stop?.kind === 'timedOut') return { kind: 'timedOut', code, limit: stop.limit };
  if (stop?.kind === 'killed') return { kind: 'killed', code, by: stop.by };
  // stopped to be requeued but could not be: recorded as killed by the shutdown
  if (stop?.kind === 'requeue') return { kind: 'killed', code, by: 'shutdown' };
  return code === 0 ? { kind: 'success', code: 0 } : { kind: 'failed', code };
}
