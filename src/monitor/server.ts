/**
 * The monitor role (SPEC §7): a thin Express shell around the route table.
 * 1. Binds to Host:The_Port; basic auth on every route when a password is set.
 * 2. Bull Board at /queues; every other path goes to `dispatch`.
 * 3. Turns Express requests into MonitorRequest and Replies into responses,
 *    with the security headers (CSP with a per-response nonce).
 * 4. A handler that fails or hangs (Redis away) answers 503, never crashes.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Settings } from '../core/settings-types.js';
import { layoutOf } from '../core/folders.js';
import { logger } from '../core/log.js';
import { JobStore } from '../core/jobstore.js';
import { Lifecycle } from '../core/lifecycle.js';
import { connect, openQueue } from '../core/redis.js';
import { JobMailer } from '../core/mail.js';
import { actionsOffReason, basicAuthUser, CsrfTokens } from './auth.js';
import { bullBoardRouter } from './bull-board.js';
import { bullBoardActions, bullBoardActionsOff } from './bull-board-actions.js';
import type { MonitorContext } from './context.js';
import { actionRoutes } from './handlers/actions.js';
import { jobRoutes } from './handlers/job.js';
import { failurePage, listRoutes } from './handlers/lists.js';
import { Metrics } from './metrics.js';
import { ReadModel } from '../core/read-model.js';
import { Operations } from '../core/operations.js';
import { dispatch, type MonitorRequest, type Reply } from './routes.js';

/** A handler still waiting after this long answers 503 (Redis unreachable). */
const DEADLINE_MS = 5_000;

export class MonitorStartError extends Error {}

export interface MonitorServer {
  url: string;
  close(): Promise<void>;
}

function toRequest(req: Request, user: string): MonitorRequest {
  const raw = req.originalUrl;
  const q = raw.indexOf('?');
  const form = new URLSearchParams();
  if (req.body && typeof req.body === 'object') {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) if (typeof v === 'string') form.set(k, v);
  }
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    method: req.method,
    path: q < 0 ? raw : raw.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)),
    form,
    headers,
    nonce: randomBytes(16).toString('base64'),
    user,
  };
}

function send(res: Response, reply: Reply, nonce: string): void {
  res.status(reply.status);
  res.setHeader(
    'content-security-policy',
    `default-src 'self'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self' data:; ` +
      `frame-ancestors 'none'; form-action 'self'; base-uri 'none'`,
  );
  res.setHeader('cache-control', 'no-store');
  for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
  const body = reply.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    res.end(body);
    return;
  }
  const stream = body as Readable;
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

export async function startMonitor(settings: Settings, redisUrl: string): Promise<MonitorServer> {
  const log = logger('monitor');
  const web = settings.web;
  const redis = connect(redisUrl, log, 'monitor');
  const queue = openQueue(redis);
  const store = new JobStore(redis, queue, settings.server.keepDone);
  const layout = layoutOf(settings.server.qmFolder);
  const model = new ReadModel(store, layout);
  const mailer = JobMailer.create(settings, log);
  const offReason = actionsOffReason(web);
  if (offReason) log.warn(`actions (cancel, kill, delete) are disabled: ${offReason}; set a password in [WEB_QMserver] to enable them`);
  const lifecycle = new Lifecycle(store, layout, log, mailer);
  const ctx: MonitorContext = {
    model, web, jobFile: settings.server.jobFile, policy: { web, offReason },
    csrf: new CsrfTokens((candidate) => store.csrfSecret(candidate)), metrics: new Metrics(model), log, lifecycle,
    operations: new Operations(lifecycle, model, settings.server.jobFile, log),
  };
  const routes = [...listRoutes(ctx), ...jobRoutes(ctx), ...actionRoutes(ctx)];

  const app = express();
  app.disable('x-powered-by');
  app.use((req: Request, res: Response, next: NextFunction) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('x-frame-options', 'DENY');
    res.setHeader('referrer-policy', 'same-origin');
    if (!web.password) {
      res.locals.user = '';
      return next();
    }
    const user = basicAuthUser(req.headers.authorization, web);
    if (user === undefined) {
      res.status(401).setHeader('www-authenticate', 'Basic realm="QM", charset="UTF-8"').type('text/plain').end('401 this monitor needs a user name and password\n');
      return;
    }
    res.locals.user = user;
    next();
  });
  // Bull Board's buttons go through QM's operations, before its own router sees them
  app.use('/queues/api', bullBoardActions(ctx));
  app.use('/queues', bullBoardRouter(queue, model, '/queues', { actions: bullBoardActionsOff(ctx) === undefined }));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));
  app.use((req: Request, res: Response) => {
    const request = toRequest(req, String(res.locals.user));
    const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('Redis does not answer')), DEADLINE_MS).unref());
    Promise.race([dispatch(routes, request), deadline]).then(
      (reply) => {
        // [WEB_QMserver] Debug: one line per request
        if (web.debug) log.info(`${request.method} ${request.path} ${reply.status}${request.user ? ` (${request.user})` : ''}`);
        send(res, reply, request.nonce);
      },
      (err: Error) => {
        log.warn(`${request.method} ${request.path}: ${err.message}`);
        if (!res.headersSent) send(res, failurePage(request, err.message), request.nonce);
        else res.destroy();
      },
    );
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' ? 'no such address here' : err.message;
      reject(new MonitorStartError(`the monitor cannot listen on ${web.host}:${web.port} ([WEB_QMserver] Host, The_Port): ${why}`));
    });
    server.listen(web.port, web.host, () => resolve());
  }).catch(async (err: Error) => {
    await queue.close().catch(() => undefined);
    redis.disconnect();
    throw err;
  });
  const host = web.host.includes(':') ? `[${web.host}]` : web.host;
  const url = `http://${host}:${web.port}`;
  log.info(`monitor on ${url} (Bull Board at ${url}/queues)${web.password ? ', basic auth on' : ''}`);
  return {
    url,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await mailer?.close();
      await store.close();
      redis.disconnect();
    },
  };
}
