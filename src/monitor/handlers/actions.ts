/**
 * Handlers of the actions: GET shows the confirmation (with the CSRF token),
 * POST does it. Both refuse what the settings disable (403) before anything
 * else; POST also needs the token made for this action on this job, and a
 * same-origin request when the browser says where it comes from.
 */
import { isAction, perform, refusal, type ActionName } from '../actions.js';
import { withJob, type MonitorContext } from '../context.js';
import { confirmPage, messagePage } from '../pages/confirm.js';
import { jobUrl } from '../pages/format.js';
import type { JobView } from '../../core/read-model.js';
import { actorNamed } from '../../core/ownership.js';
import { errorReply, htmlReply, redirect, type MonitorRequest, type Params, type Reply, type Rest, type Route } from '../routes.js';

function refused(req: MonitorRequest, status: number, message: string, back: string): Reply {
  if (req.headers.accept?.startsWith('application/json')) return errorReply(req, status, message);
  return htmlReply(status, messagePage('Not done', message, back, req.nonce, true));
}

/** The browser's Origin (when sent) names this very server. */
function sameOrigin(req: MonitorRequest): boolean {
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return origin === undefined;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export function actionRoutes(ctx: MonitorContext): Route[] {
  /** 404 for an unknown action word; the job lookup only for a known one. */
  const forAction = (handler: (req: MonitorRequest, view: JobView, action: ActionName) => Promise<Reply>) => {
    return (req: MonitorRequest, params: Params, rest: Rest): Promise<Reply> => {
      const action = params.action!;
      if (!isAction(action)) return Promise.resolve(errorReply(req, 404, `no page at ${req.path}`));
      return withJob(ctx, (r, view) => handler(r, view, action))(req, params, rest);
    };
  };

  const confirm = forAction(async (req, view, action) => {
    const no = refusal(ctx.policy, action, view);
    if (no) return refused(req, no.status, no.message, jobUrl(view.name, view.id));
    return htmlReply(200, confirmPage(action, view, await ctx.csrf.token(action, view.name, view.id ?? ''), req.nonce));
  });

  const act = forAction(async (req, view, action) => {
    const back = jobUrl(view.name, view.id);
    const no = refusal(ctx.policy, action, view);
    if (no?.status === 403) return refused(req, 403, no.message, back);
    const id = req.form.get('id') ?? '';
    if (!sameOrigin(req) || !(await ctx.csrf.check(req.form.get('csrf'), action, view.name, id))) {
      return refused(req, 403, 'this form is not valid here (missing or stale CSRF token): open the action again from the job page', back);
    }
    if (no) return refused(req, no.status, no.message, back);
    const by = req.user ? `monitor (${req.user})` : 'monitor';
    const result = await perform(ctx.operations, action, view, await actorNamed(req.user), by);
    if (!result.ok) return refused(req, result.status, result.message, back);
    ctx.log.info({ job: view.name }, `${action}: ${result.message} (by ${by})`);
    if (result.note === 'deleted') return redirect('/?note=deleted');
    if (result.note === 'requeued') return redirect(`${jobUrl(view.name, undefined)}?note=requeued`);
    return redirect(`${back}${view.id ? '&' : '?'}note=${result.note}`);
  });

  return [
    { method: 'GET', path: '/job/:name/:action', handler: confirm },
    { method: 'POST', path: '/job/:name/:action', handler: act },
  ];
}
