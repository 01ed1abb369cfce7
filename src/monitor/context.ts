/**
 * What every handler works with, and the lookup they share: a job named in
 * the path (`:name`, plus `?id=` to follow one job across states), a 404 in
 * one place when there is none.
 */
import type { Logger } from '../core/log.js';
import type { JobMailer } from '../worker/mail.js';
import type { WebSettings } from '../core/settings-types.js';
import type { ActionPolicy } from './actions.js';
import type { CsrfTokens } from './auth.js';
import type { Metrics } from './metrics.js';
import type { JobView, ReadModel } from './read-model.js';
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
  /** the end-of-job mail of a job cancelled here, as `qm cancel` sends it (MailActive) */
  mailer: JobMailer | undefined;
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
};
