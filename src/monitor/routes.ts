/**
 * The monitor's HTTP model, independent of Express.
 * 1. `MonitorRequest` and `Reply`: what a handler reads and returns.
 * 2. Routes are data: method, a path pattern (`:name` one segment, `*` the
 *    rest) and a handler; `dispatch` picks the route.
 * 3. Path segments are decoded one by one: a decoded `/`, `\`, NUL, `.` or
 *    `..` is refused, so an encoded slash can never climb out of a folder.
 * 4. A miss is a 404 here and nowhere else.
 */
import type { Readable } from 'node:stream';
import type { Html } from './html.js';

export interface MonitorRequest {
  method: string;
  /** path as sent, still percent-encoded, without the query */
  path: string;
  query: URLSearchParams;
  /** fields of a POSTed urlencoded form */
  form: URLSearchParams;
  headers: Record<string, string | undefined>;
  /** per-response nonce allowed by the Content-Security-Policy for inline script and style */
  nonce: string;
  /** the basic-auth user; empty without a password */
  user: string;
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer | Readable;
}

export interface Params {
  [name: string]: string;
}

/** Segments matched by `*`, decoded. */
export type Rest = string[];

export type Handler = (req: MonitorRequest, params: Params, rest: Rest) => Promise<Reply>;

export interface Route {
  method: 'GET' | 'POST';
  /** e.g. `/job/:name/view/*` */
  path: string;
  handler: Handler;
}

export const HTML_TYPE = 'text/html; charset=utf-8';

export function htmlReply(status: number, page: Html): Reply {
  return { status, headers: { 'content-type': HTML_TYPE }, body: page.text };
}

export function jsonReply(status: number, value: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(value) };
}

export function textReply(status: number, text: string, type = 'text/plain; charset=utf-8'): Reply {
  return { status, headers: { 'content-type': type }, body: text };
}

export function redirect(location: string): Reply {
  return { status: 303, headers: { location }, body: '' };
}

/** A request the monitor refuses, as the page or JSON the caller expects. */
export function errorReply(req: MonitorRequest, status: number, message: string): Reply {
  const wantsJson = req.path.startsWith('/api/') || (req.headers.accept ?? '').startsWith('application/json');
  return wantsJson ? jsonReply(status, { error: message }) : textReply(status, `${status} ${message}\n`);
}

class BadPath extends Error {}

function decodeSegment(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new BadPath(`bad percent-encoding in ${JSON.stringify(raw)}`);
  }
  if (decoded === '' || decoded === '.' || decoded === '..' || /[/\\\0]/.test(decoded)) {
    throw new BadPath(`path segment ${JSON.stringify(decoded)} is not allowed`);
  }
  return decoded;
}

/** Params and rest when `pattern` matches `path`, else undefined. Throws BadPath on a forbidden segment. */
function match(pattern: string, path: string): { params: Params; rest: Rest } | undefined {
  const want = pattern.split('/').slice(1);
  const got = path.split('/').slice(1);
  const params: Params = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w === '*') {
      const rest = got.slice(i);
      return rest.length > 0 ? { params, rest: rest.map(decodeSegment) } : undefined;
    }
    const g = got[i];
    if (g === undefined) return undefined;
    if (w.startsWith(':')) params[w.slice(1)] = decodeSegment(g);
    else if (w !== g) return undefined;
  }
  return got.length === want.length ? { params, rest: [] } : undefined;
}

export async function dispatch(routes: Route[], req: MonitorRequest): Promise<Reply> {
  try {
    for (const route of routes) {
      if (route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) continue;
      const found = match(route.path, req.path);
      if (found) return await route.handler(req, found.params, found.rest);
    }
  } catch (err) {
    if (err instanceof BadPath) return errorReply(req, 400, err.message);
    throw err;
  }
  return errorReply(req, 404, `no page at ${req.path}`);
}
