/**
 * What every handler works with, and the lookup they share: a job named in
 * the path (`:name`, plus `?id=` to follow one job across states), a 404 in
 * one place when there is none.
 */
import type { Logger } from '../core/log.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { Operations } from '../core/operations.js';
import type { WebSettings } from '../core/settings-types.js';
import type { ActionPolicy } from './actions.js';
import type { CsrfTokens } from './auth.js';
import type { Metrics } from './metrics.js';
import type { JobView, ReadModel } from '../core/read-model.js';
import { errorReply, type MonitorRequest, type Params, type Reply, type Rest } from './routes.js';

export interface MonitorContext {
  model: ReadModel;
  web: WebSettings;
  /** descriptor file name (job_file) */
  jobFile: string;
  policy: ActionPolicy;
  csrf: CsrfTokens;
  metrics: Metrics;
  log: Logger;
  /** the actions' transitions (a job cancelled here is mailed as `qm cancel` mails it) */
  lifecycle: Lifecycle;
  /** hold, release, requeue, pause, cancel with the ownership check */
  operations: Operations;
}

export type JobHandler = (req: MonitorRequest, view: JobView, rest: Rest) => Promise<Reply>;

/** The job of `:name` (and `id` from the query or form), or a 404. */
export function withJob(ctx: MonitorContext, handler: JobHandler) {
  return async (req: MonitorRequest, params: Params, rest: Rest): Promise<Reply> => {
    const name = params.name!;
    const id = req.query.get('id') || req.form.get('id') || undefined;
    const view = await ctx.model.find(name, id);
    if (!view) return errorReply(req, 404, id ? `no job ${name} with id ${id}` : `no job named ${name}`);
    return handler(req, view, rest);
  };
}

/** Fixed texts shown after an action (never text from the URL). */
export const NOTES: Record<string, string> = {
  'kill-requested': 'Kill requested: the job gets SIGTERM, then SIGKILL after kill_grace seconds.',
  cancelled: 'The job was cancelled before it started.',
  deleted: 'The job was deleted.',
  held: 'The job is held: it does not start until released.',
  released: 'The job was released.',
  requeued: 'The job was queued again as a new run (its old folder stays).',
};
