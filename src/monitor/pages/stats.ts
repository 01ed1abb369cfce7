/**
 * `/stats`: per owner (e_mail), over a chosen period, the number of jobs,
 * total and mean elapsed time and CPU time (core/owner-stats.ts).
 */
import type { OwnerStats } from '../../core/owner-stats.js';
import { html, type Html } from '../html.js';
import { duration } from './format.js';
import { layout } from './layout.js';

export interface Period {
  /** YYYY-MM-DD, local, inclusive */
  from: string;
  to: string;
  fromMs: number;
  toMs: number;
}

function day(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function parseDay(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return undefined;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return day(d) === text ? d : undefined;
}

/** The period asked for by `from`/`to` (YYYY-MM-DD) or `days`; default the last 30 days. Throws a readable Error. */
export function periodOf(query: URLSearchParams, now = new Date()): Period {
  const days = query.get('days');
  let from: Date;
  let to = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  if (days !== null) {
    if (!/^\d{1,5}$/.test(days) || Number(days) < 1) throw new Error(`days=${days}: expected a number of days >= 1`);
    from = new Date(to.getFullYear(), to.getMonth(), to.getDate() - Number(days) + 1);
  } else {
    const f = query.get('from');
    const t = query.get('to');
    if (t) to = parseDay(t) ?? badDay('to', t);
    from = f ? (parseDay(f) ?? badDay('from', f)) : new Date(to.getFullYear(), to.getMonth(), to.getDate() - 29);
    if (from > to) throw new Error(`from=${f} is after to=${day(to)}`);
  }
  const end = new Date(to.getFullYear(), to.getMonth(), to.getDate() + 1);
  return { from: day(from), to: day(to), fromMs: from.getTime(), toMs: end.getTime() - 1 };
}

function badDay(key: string, value: string): never {
  throw new Error(`${key}=${value}: expected a date like 2026-01-31`);
}

function row(s: Totals, label: Html | string): Html {
  const mean = (total: number) => (s.ran ? duration(total / s.ran) : '');
  return html`<tr><td>${label}</td><td class="num">${s.jobs}</td><td class="num">${s.succeeded}</td>
<td class="num">${duration(s.elapsedSeconds)}</td><td class="num">${mean(s.elapsedSeconds)}</td><td class="num">${duration(s.cpuSeconds)}</td><td class="num">${mean(s.cpuSeconds)}</td></tr>`;
}

type Totals = Pick<OwnerStats, 'jobs' | 'succeeded' | 'ran' | 'elapsedSeconds' | 'cpuSeconds'>;

export function statsPage(period: Period, stats: OwnerStats[], nonce: string): Html {
  const total = stats.reduce<Totals>(
    (t, s) => ({ jobs: t.jobs + s.jobs, succeeded: t.succeeded + s.succeeded, ran: t.ran + s.ran, elapsedSeconds: t.elapsedSeconds + s.elapsedSeconds, cpuSeconds: t.cpuSeconds + s.cpuSeconds }),
    { jobs: 0, succeeded: 0, ran: 0, elapsedSeconds: 0, cpuSeconds: 0 },
  );
  const rows = stats.map((s) => row(s, s.owner || html`<span class="muted">no e_mail</span>`));
  const body = html`<h1>Statistics per owner</h1>
<section><form method="get" action="/stats" class="actions">
<label>from <input type="date" name="from" value="${period.from}"></label>
<label>to <input type="date" name="to" value="${period.to}"></label><button type="submit">Show</button>
<a class="button" href="/stats?days=1">today</a><a class="button" href="/stats?days=7">7 days</a>
<a class="button" href="/stats?days=30">30 days</a><a class="button" href="/stats?days=365">a year</a></form></section>
<section><h2>Jobs ended from ${period.from} to ${period.to} <span class="count">${total.jobs}</span></h2>
<table><thead><tr><th>Owner</th><th class="num">Jobs</th><th class="num">Succeeded</th><th class="num">Total elapsed</th><th class="num">Mean elapsed</th>
<th class="num">Total CPU</th><th class="num">Mean CPU</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="7">no job ended in this period</td></tr>`}</tbody>
${rows.length > 1 ? html`<tfoot>${row(total, html`<b>all owners</b>`)}</tfoot>` : ''}</table>
<p class="muted">Over the done records kept in Redis (keep_done).</p></section>`;
  return layout({ title: 'Stats', nonce, here: 'stats', body });
}
