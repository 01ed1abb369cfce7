/** The monitor's pure parts: escaping, path matching, progress, auth and periods. */
import { describe, expect, it } from 'vitest';
import { html, trusted } from '../../src/monitor/html.js';
import { dispatch, jsonReply, type MonitorRequest, type Route } from '../../src/monitor/routes.js';
import { progressIn, reportedTimeIn } from '../../src/core/progress.js';
import { actionsOffReason, basicAuthUser, isLoopback, CsrfTokens } from '../../src/monitor/auth.js';
import { periodOf } from '../../src/monitor/pages/stats.js';
import { looksBinary } from '../../src/monitor/files.js';
import type { WebSettings } from '../../src/core/settings-types.js';

const web = (over: Partial<WebSettings> = {}): WebSettings => ({
  host: 'localhost', port: 8000, refreshRate: 10, displayDetails: true, deleteJobs: false,
  licenceToKill: false, debug: false, user: '', password: '', ...over,
});

function req(path: string): MonitorRequest {
  return { method: 'GET', path, query: new URLSearchParams(), form: new URLSearchParams(), headers: {}, nonce: 'n', user: 'u' };
}

describe('html escaping', () => {
  it('escapes interpolated text, keeps fragments built with html, joins arrays', () => {
    const name = `<img src=x onerror="alert('1')">&`;
    const out = html`<td>${name}</td>${[html`<b>${'<i>'}</b>`, '<u>']}${undefined}${false}${trusted('<br>')}`;
    expect(out.text).toBe('<td>&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;</td><b>&lt;i&gt;</b>&lt;u&gt;<br>');
  });
});

describe('route matching', () => {
  const routes: Route[] = [
    { method: 'GET', path: '/job/:name', handler: async (_r, p) => jsonReply(200, p) },
    { method: 'GET', path: '/job/:name/view/*', handler: async (_r, p, rest) => jsonReply(200, { ...p, rest }) },
  ];

  it('decodes each segment', async () => {
    expect(JSON.parse(String((await dispatch(routes, req('/job/a%20b%2Bc'))).body))).toEqual({ name: 'a b+c' });
    const r = await dispatch(routes, req('/job/a%20b/view/sub/f%C3%A9.txt'));
    expect(JSON.parse(String(r.body))).toEqual({ name: 'a b', rest: ['sub', 'fé.txt'] });
  });

  it('refuses encoded slashes, backslashes, NUL and dot segments with 400', async () => {
    for (const path of ['/job/..%2Fetc/view/x', '/job/a/view/..%2F..%2Fetc%2Fpasswd', '/job/a/view/%2e%2e/x', '/job/a/view/..',
      '/job/a/view/x%5C..%5Cy', '/job/a/view/x%00', '/job/%2e', '/job/a/view/bad%zz']) {
      const r = await dispatch(routes, req(path));
      expect(r.status, path).toBe(400);
    }
  });

  it('answers 404 for anything else', async () => {
    expect((await dispatch(routes, req('/nothing'))).status).toBe(404);
    expect((await dispatch(routes, req('/job/a/other'))).status).toBe(404);
    expect((await dispatch(routes, req('/job/a/view'))).status).toBe(404);
  });
});

describe('progress', () => {
  it('is the last i / n of the log', () => {
    expect(progressIn('start\n  1 / 10\n  2/10\nstep  7 / 20 done\n')).toEqual({ done: 7, total: 20, percent: 35 });
    expect(progressIn('Job started by QM at: 2026-01-01T00:00:00Z\nno numbers')).toBeUndefined();
    expect(progressIn(' 3 / 0')).toBeUndefined();
  });

  it('the job\'s time is its last `time: N` line, in seconds (QM 0.4\'s duration)', () => {
    expect(reportedTimeIn('step 1 / 2\ntime: 12\nstep 2 / 2\nelapsed time:40 s\n')).toBe(40);
    expect(reportedTimeIn('Job started by QM at: 2026-01-01T00:00:00Z\nReason: time limit of 60 s reached\n')).toBeUndefined();
  });
});

describe('who may do what', () => {
  it('tells loopback hosts', () => {
    for (const h of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', 'example.org', '192.168.1.2', 'myhost']) expect(isLoopback(h), h).toBe(false);
  });

  it('turns actions off on a non-loopback Host without a password', () => {
    expect(actionsOffReason(web({ host: '0.0.0.0' }))).toMatch(/0\.0\.0\.0/);
    expect(actionsOffReason(web({ host: '0.0.0.0', password: 's' }))).toBeUndefined();
    expect(actionsOffReason(web({ host: 'localhost' }))).toBeUndefined();
  });

  it('checks basic auth', () => {
    const b = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
    const w = web({ user: 'ann', password: 'p:w' });
    expect(basicAuthUser(b('ann:p:w'), w)).toBe('ann');
    expect(basicAuthUser(b('bob:p:w'), w)).toBeUndefined();
    expect(basicAuthUser(b('ann:nope'), w)).toBeUndefined();
    expect(basicAuthUser(undefined, w)).toBeUndefined();
    expect(basicAuthUser(b('anyone:p:w'), web({ password: 'p:w' }))).toBe('anyone');
  });

  it('binds a CSRF token to its action and job', () => {
    const csrf = new CsrfTokens();
    const t = csrf.token('kill', 'a', '1');
    expect(csrf.check(t, 'kill', 'a', '1')).toBe(true);
    expect(csrf.check(t, 'delete', 'a', '1')).toBe(false);
    expect(csrf.check(t, 'kill', 'b', '1')).toBe(false);
    expect(csrf.check(null, 'kill', 'a', '1')).toBe(false);
    expect(new CsrfTokens().check(t, 'kill', 'a', '1')).toBe(false);
  });
});

describe('stats', () => {
  it('reads the period from the query, one clear error otherwise', () => {
    const now = new Date(2026, 2, 15, 12);
    expect(periodOf(new URLSearchParams(''), now)).toMatchObject({ from: '2026-02-14', to: '2026-03-15' });
    expect(periodOf(new URLSearchParams('days=1'), now)).toMatchObject({ from: '2026-03-15', to: '2026-03-15' });
    expect(periodOf(new URLSearchParams('from=2026-01-01&to=2026-01-31'), now)).toMatchObject({ from: '2026-01-01', to: '2026-01-31' });
    expect(() => periodOf(new URLSearchParams('from=2026-02-30'), now)).toThrow(/from=2026-02-30: expected a date/);
    expect(() => periodOf(new URLSearchParams('days=x'), now)).toThrow(/days=x/);
    expect(() => periodOf(new URLSearchParams('from=2026-03-02&to=2026-03-01'), now)).toThrow(/after/);
  });
});

describe('binary detection', () => {
  it('shows UTF-8 text, offers the rest for download', () => {
    expect(looksBinary(Buffer.from('héllo\nworld'))).toBe(false);
    expect(looksBinary(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00]))).toBe(true);
    expect(looksBinary(Buffer.from([0xff, 0xfe, 0x41, 0x42, 0x43, 0x44, 0x45]))).toBe(true);
  });
});
