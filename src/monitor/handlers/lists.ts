/**
 * Handlers of the overview pages: `/` and `/api/jobs` (the same data),
 * `/stats` and `/api/stats`, `/metrics`, `/healthz`.
 */
import { allowedActions } from '../actions.js';
import { NOTES, type MonitorContext } from '../context.js';
import { health } from '../metrics.js';
import { homePage } from '../pages/home.js';
import { periodOf, statsPage } from '../pages/stats.js';
import { messagePage } from '../pages/confirm.js';
import { errorReply, htmlReply, jsonReply, textReply, type MonitorRequest, type Route } from '../routes.js';
import { layout } from '../pages/layout.js';
import { html } from '../html.js';

const PER_PAGE = 50;
/** At most this many queued jobs are listed (the count is always exact). */
const QUEUED_SHOWN = 500;
const MAX_PER_PAGE = 1000;

function positive(text: string | null, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = text !== null && /^\d{1,9}$/.test(text) ? Number(text) : fallback;
  return Math.min(Math.max(1, n), max);
}

async function overview(ctx: MonitorContext, req: MonitorRequest) {
  const page = positive(req.query.get('page'), 1);
  const perPage = positive(req.query.get('per_page'), PER_PAGE, MAX_PER_PAGE);
  const [queued, running, done, workers, arrays, paused] = await Promise.all([
    ctx.model.queued(QUEUED_SHOWN),
    ctx.model.running(),
    ctx.model.done(page, perPage),
    ctx.model.workers(),
    ctx.model.arrays(),
    ctx.model.store.isPaused(),
  ]);
  return { queued, running, done, workers, arrays, paused };
}

export function listRoutes(ctx: MonitorContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      handler: async (req) => {
        const data = await overview(ctx, req);
        const details = req.query.has('details') ? req.query.get('details') === '1' : ctx.web.displayDetails;
        const page = homePage(
          {
            ...data, now: Date.now(), details, refreshRate: ctx.web.refreshRate,
            note: NOTES[req.query.get('note') ?? ''],
            actionsFor: (view) => allowedActions(ctx.policy, view),
          },
          req.nonce,
        );
        return htmlReply(200, page);
      },
    },
    {
      method: 'GET',
      path: '/api/jobs',
      handler: async (req) => {
        const { queued, running, done, workers, arrays, paused } = await overview(ctx, req);
        const now = Date.now();
        return jsonReply(200, {
          arrays,
          queued: { total: queued.total, jobs: queued.jobs.map((q, i) => ({ ...q, position: i + 1, arriving: !q.job })) },
          running: running.map((r) => ({ ...r, elapsed: (now - r.info.startedAt) / 1000 })),
          done,
          workers,
          paused,
        });
      },
    },
    {
      method: 'GET',
      path: '/stats',
      handler: async (req) => {
        let period;
        try {
          period = periodOf(req.query);
        } catch (err) {
          return htmlReply(400, messagePage('Bad period', (err as Error).message, '/stats', req.nonce, true));
        }
        return htmlReply(200, statsPage(period, await ctx.model.ownerStats(period.fromMs, period.toMs), req.nonce));
      },
    },
    {
      method: 'GET',
      path: '/api/stats',
      handler: async (req) => {
        let period;
        try {
          period = periodOf(req.query);
        } catch (err) {
          return errorReply(req, 400, (err as Error).message);
        }
        return jsonReply(200, { from: period.from, to: period.to, owners: await ctx.model.ownerStats(period.fromMs, period.toMs) });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async () => {
        const { type, body } = await ctx.metrics.text();
        return textReply(200, body, type);
      },
    },
    {
      method: 'GET',
      path: '/healthz',
      handler: async () => {
        const h = await health(ctx.model);
        return jsonReply(h.ok ? 200 : 503, h);
      },
    },
  ];
}

/** The page shown when a handler fails unexpectedly (Redis gone, disk error). */
export function failurePage(req: MonitorRequest, message: string) {
  if (req.path.startsWith('/api/') || req.path === '/healthz') return errorReply(req, 503, message);
  const body = html`<h1>The monitor cannot answer</h1><div class="notice bad">${message}</div><p class="muted">It retries on the next refresh.</p>`;
  return htmlReply(503, layout({ title: 'Unavailable', nonce: req.nonce, here: 'none', body }));
}
