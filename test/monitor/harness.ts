/**
 * Starts the real `qm` binary with its monitor on a free port against a
 * private Redis, and talks HTTP to it the way a browser or curl would (raw
 * paths included: no URL normalisation on the way).
 */
import http from 'node:http';
import { TestRedis, freePort } from '../helpers/redis.js';
import { makeQmDir, startQm, type CfgSections, type QmDir, type QmProcess } from '../helpers/qm.js';

export interface MonitorQm {
  qm: QmDir;
  proc: QmProcess;
  url: string;
  port: number;
  stop(): Promise<number>;
}

/**
 * `command` = `start` (ingest + worker + monitor) or `monitor` alone;
 * `web` goes to [WEB_QMserver] (Host defaults to 127.0.0.1, the port is free).
 */
export async function startMonitorQm(
  redis: TestRedis,
  opts: { command?: 'start' | 'monitor'; web?: CfgSections[string]; server?: CfgSections[string]; env?: NodeJS.ProcessEnv } = {},
): Promise<MonitorQm> {
  const port = await freePort();
  const qm = makeQmDir({
    QMServer: { redis_url: redis.url, MaxNbProcessors: 4, ...opts.server },
    WEB_QMserver: { Host: '127.0.0.1', The_Port: port, Refresh_Rate: 1, ...opts.web },
  });
  const proc = startQm([opts.command ?? 'start', '-c', qm.cfg], opts.env);
  await proc.waitForOutput(/monitor on http/);
  return {
    qm,
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      const code = await proc.stop();
      qm.cleanup();
      return code;
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** One HTTP request with `path` sent exactly as given. */
export function request(
  port: number,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string; host?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: opts.host ?? '127.0.0.1', port, method, path, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.body) req.end(opts.body);
    else req.end();
  });
}

export const get = (port: number, path: string, headers?: Record<string, string>) => request(port, 'GET', path, { headers });

/** POSTs an urlencoded form. */
export function postForm(port: number, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return request(port, 'POST', path, {
    body: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
}

/** The hidden fields of the confirmation form of a page. */
export function formFields(html: string): { action: string; csrf: string; id: string } {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  const id = /name="id" value="([^"]*)"/.exec(html)?.[1];
  if (!action || !csrf || id === undefined) throw new Error(`no confirmation form in:\n${html.slice(0, 500)}`);
  return { action: action.replace(/&amp;/g, '&'), csrf, id };
}

export function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A job that prints `i / 1000` every 0.1 s until `flag` exists (or it is killed). */
export function progressScript(flag: string): string {
  return `i=0; while [ ! -e ${flag} ]; do i=$((i+1)); echo " $i / 1000"; sleep 0.1; done`;
}
