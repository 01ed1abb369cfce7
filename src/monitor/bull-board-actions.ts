/**
 * Bull Board's buttons, done the QM way (SPEC §10): its API routes are
 * answered here, before its own router, so none of them reaches BullMQ
 * behind QM's back.
 * 1. Retry of a failed or completed job = `qm requeue` (a new run from a copy
 *    of its folder); Retry all = the same for each name;
 * 2. Remove of a queued job = `qm cancel`; Remove of a finished one forgets
 *    its record (Clean: records, never folders); Clean of a whole tab the same;
 * 3. Promote of a held (or not yet begun) job = `qm release` (now); of a job
 *    waiting for its `after` jobs: they are looked at again;
 * 4. Pause / Resume = `qm pause` / `qm resume`;
 * 5. every other change (add, edit, empty, obliterate, delay, priority...) is refused.
 * Its UI sends no CSRF token: an action needs the password (basic auth,
 * checked for every request when set) and a same-origin request, and is off
 * wherever the classic page's actions are off. Another user's job is refused
 * in one line (root: any).
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Job } from 'bullmq';
import type { MonitorContext } from './context.js';
import { actorNamed, refusalFor, type Actor } from '../core/ownership.js';
import type { QueuedJob } from '../core/status.js';

interface Answer {
  status: number;
  body: unknown;
}

const done = (status = 204): Answer => ({ status, body: {} });
const no = (status: number, message: string): Answer => ({ status, body: { error: message, message } });

/** Why Bull Board's actions are off on this monitor, or undefined when they are on. */
export function bullBoardActionsOff(ctx: Pick<MonitorContext, 'policy'>): string | undefined {
  const { web, offReason } = ctx.policy;
  if (offReason) return `actions are disabled: ${offReason}`;
  if (!web.password) return "Bull Board's actions need a password ([WEB_QMserver] password): its page sends no CSRF token";
  if (!web.licenceToKill && !web.deleteJobs) return 'actions are disabled (Licence_to_kill = False, Delete_Jobs = False)';
  return undefined;
}

/** The browser says the request comes from a page of this very server. */
function sameOrigin(req: Request): boolean {
  if (req.headers['sec-fetch-site'] === 'same-origin') return true;
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

type Act = (actor: Actor, by: string, params: Record<string, string>) => Promise<Answer>;

export function bullBoardActions(ctx: MonitorContext): Router {
  const { operations: ops, model, web } = ctx;
  const store = model.store;
  const needKill = () => (web.licenceToKill ? undefined : no(403, 'this is disabled (Licence_to_kill = False)'));
  const needDelete = () => (web.deleteJobs ? undefined : no(403, 'removing records is disabled (Delete_Jobs = False)'));

  const jobOf = async (id: string) => (await store.job(id)) as Job<QueuedJob> | undefined;

  /** Retry = qm requeue of that run. */
  const retry = async (actor: Actor, job: Job<QueuedJob>): Promise<Answer> => {
    const state = await job.getState();
    if (state !== 'failed' && state !== 'completed') return no(400, `${job.data.name} has not finished (${state}): only a finished job can be retried`);
    const result = await ops.requeue(job.data.name, actor, job.id);
    return result.ok ? done() : no(409, result.message);
  };

  /** Clean of a finished job: its record forgotten, its folder kept. */
  const forget = async (actor: Actor, job: Job<QueuedJob>): Promise<Answer> => {
    const result = await ops.forget(job.id!, actor);
    return result.ok ? done() : no(409, result.message);
  };

  const promote = async (actor: Actor, job: Job<QueuedJob>): Promise<Answer> => {
    if ((await job.getState()) !== 'delayed') return no(400, `${job.data.name} is not waiting aside: nothing to promote`);
    if (job.data.held || job.data.beginAt !== undefined) {
      const result = await ops.release(job.data.name, actor, { now: true });
      return result.ok ? done() : no(409, result.message);
    }
    const view = await model.current(job.data.name);
    const refused = view && (await refusalFor(model, actor, view, 'promote'));
    if (refused) return no(403, refused);
    // waiting for its `after` jobs: the worker that picks it looks at them again
    await job.promote().catch(() => undefined);
    return done();
  };

  const routes: Array<[string, Act]> = [
    ['/queues/pause', async (actor) => needKill() ?? (await ops.pause(actor), done(200))],
    ['/queues/resume', async (actor) => needKill() ?? (await ops.resume(actor), done(200))],
    ['/queues/:queue/pause', async (actor) => needKill() ?? (await ops.pause(actor), done(200))],
    ['/queues/:queue/resume', async (actor) => needKill() ?? (await ops.resume(actor), done(200))],
    ['/queues/:queue/retry/:status', async (actor, _by, p) => {
      const off = needKill();
      if (off) return off;
      if (p.status !== 'failed' && p.status !== 'completed') return no(400, `only finished jobs can be retried, not ${p.status} ones`);
      const seen = new Set<string>();
      for (const job of await store.jobsIn(p.status, 0, -1)) {
        if (seen.has(job.data.name)) continue;
        seen.add(job.data.name);
        await retry(actor, job);
      }
      return done(200);
    }],
    ['/queues/:queue/promote', async (actor) => {
      const off = needKill();
      if (off) return off;
      for (const job of await store.jobsIn('delayed', 0, -1)) await promote(actor, job);
      return done(200);
    }],
    ['/queues/:queue/clean/:status', async (actor, _by, p) => {
      const off = needDelete();
      if (off) return off;
      if (p.status !== 'failed' && p.status !== 'completed') {
        return no(400, `only finished jobs can be cleaned (their records; folders stay): cancel ${p.status} jobs one by one`);
      }
      for (const job of await store.jobsIn(p.status, 0, -1)) await forget(actor, job);
      return done(200);
    }],
    ['/queues/:queue/:jobId/retry', async (actor, _by, p) => {
      const job = await jobOf(p.jobId!);
      return !job ? no(404, `no job ${p.jobId}`) : (needKill() ?? retry(actor, job));
    }],
    ['/queues/:queue/:jobId/promote', async (actor, _by, p) => {
      const job = await jobOf(p.jobId!);
      return !job ? no(404, `no job ${p.jobId}`) : (needKill() ?? promote(actor, job));
    }],
    ['/queues/:queue/:jobId/clean', async (actor, by, p) => {
      const job = await jobOf(p.jobId!);
      if (!job) return no(404, `no job ${p.jobId}`);
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') return needDelete() ?? forget(actor, job);
      if (state === 'active') return no(409, `${job.data.name} is running: kill it from its QM page or with qm cancel`);
      const off = needKill();
      if (off) return off;
      const result = await ops.cancel(job.data.name, actor, by);
      if (result.kind === 'refused') return no(403, result.message);
      return result.kind === 'cancelled' || result.kind === 'kill-requested' ? done() : no(409, `${job.data.name} is no longer queued`);
    }],
  ];

  const router = express.Router();
  const guard = (act: Act) => async (req: Request, res: Response) => {
    const answer = await answerFor(req, res, act).catch((err: Error) => no(503, err.message));
    res.status(answer.status).json(answer.body);
  };
  const answerFor = async (req: Request, res: Response, act: Act): Promise<Answer> => {
    const off = bullBoardActionsOff(ctx);
    if (off) return no(403, off);
    if (!sameOrigin(req)) return no(403, 'Bull Board actions are taken only from its own page (same-origin request)');
    const user = String(res.locals.user ?? '');
    const by = user ? `Bull Board (${user})` : 'Bull Board';
    const answer = await act(await actorNamed(user), by, req.params as Record<string, string>);
    ctx.log.info(`${req.method} ${req.originalUrl} by ${by}: ${answer.status}`);
    return answer;
  };
  for (const [path, act] of routes) router.put(path, guard(act));
  // anything else that would change the queue through Bull Board (add, edit data, delay, priority, empty, obliterate...)
  router.use((req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    res.status(403).json(no(403, 'not available in QM: act on jobs with Retry, Remove, Promote, Pause/Resume, or from the QM pages').body);
  });
  return router;
}
