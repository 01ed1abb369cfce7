/**
 * The classic QM page (SPEC §7, §10): queued (with why each waits), running
 * and done tables, each row with its user and the actions allowed on it,
 * and a filter box (name, user, state) over the three. It refreshes itself
 * every Refresh_Rate seconds by fetching itself and swapping the sections
 * whose content changed (the filter applied again), so nothing flickers and
 * the scroll position stays.
 */
import { describeOutcome, type DoneRecord, type Outcome } from '../../core/status.js';
import { html, type Html } from '../html.js';
import type { ActionName } from '../actions.js';
import type { DonePage, JobView, QueuedEntry as QueuedView, RunningEntry as RunningView } from '../../core/read-model.js';
import type { ArraySummary } from '../../core/array-summary.js';
import type { Heartbeat as WorkerBeat } from '../../core/heartbeat.js';
import { duration, jobUrl, when } from './format.js';
import { layout } from './layout.js';
import { formatMb } from '../../core/resources.js';

export interface HomeData {
  queued: { total: number; jobs: QueuedView[] };
  running: RunningView[];
  done: DonePage;
  workers: WorkerBeat[];
  /** arrays with tasks queued or running: one row each, their queued tasks folded into it */
  arrays: ArraySummary[];
  now: number;
  details: boolean;
  refreshRate: number;
  /** a fixed notice after an action */
  note: string | undefined;
  /** the actions allowed on a job of that state */
  actionsFor: (view: JobView) => ActionName[];
  /** the queue is paused (qm pause) */
  paused: boolean;
}

/** What the filter box matches a row on. */
function rowData(name: string, user: string | undefined, state: string): Html {
  return html`data-name="${name}" data-user="${user ?? ''}" data-state="${state}"`;
}

export function outcomeBadge(outcome: Outcome): Html {
  const tone = outcome.kind === 'success' ? 'ok' : outcome.kind === 'cancelled' || outcome.kind === 'unrecorded' ? 'warn' : 'bad';
  return html`<span class="badge ${tone}">${describeOutcome(outcome)}</span>`;
}

function actionLinks(name: string, id: string | undefined, actions: ActionName[]): Html {
  return html`${actions.map((a) => html`<a class="button danger" href="${jobUrl(name, id, a)}">${a}</a> `)}`;
}

function detailCells(details: boolean, email?: string, info?: string): Html {
  return details ? html`<td>${email ?? ''}</td><td>${info ?? ''}</td>` : html``;
}

function detailHeads(details: boolean): Html {
  return details ? html`<th>Owner</th><th>Info</th>` : html``;
}

/** One row per array: its counts, its running tasks and its next queued ones, each linked. */
function arraysSection(d: HomeData): Html {
  if (d.arrays.length === 0) return html`<section id="arrays"></section>`;
  const rows = d.arrays.map((a) => {
    const running = d.running.filter((r) => r.info.array?.id === a.id);
    const next = d.queued.jobs.filter((q) => q.job?.array?.id === a.id).slice(0, 5);
    const links = [...running, ...next].map((t) => html`<a href="${jobUrl(t.name, t.id)}">${t.name}</a> `);
    return html`<tr><td class="name">${a.name}</td><td>${a.spec}</td><td class="num">${a.queued}</td><td class="num">${a.running}</td>
<td class="num">${a.done}</td><td class="num">${a.failed}</td><td>${links}</td></tr>`;
  });
  return html`<section id="arrays"><h2>Arrays <span class="count">${d.arrays.length}</span></h2>
<table><thead><tr><th>Name</th><th>Tasks</th><th class="num">Queued</th><th class="num">Running</th><th class="num">Done</th><th class="num">Failed</th><th>Tasks running, next queued</th></tr></thead>
<tbody>${rows}</tbody></table></section>`;
}

function queuedSection(d: HomeData): Html {
  // the queued tasks of an array are in its row of the Arrays table
  const grouped = new Set(d.arrays.map((a) => a.id));
  const rows = d.queued.jobs.filter((q) => !q.job?.array || !grouped.has(q.job.array.id)).map((q, i) => {
    const job = q.job;
    const waiting = job ? duration((d.now - job.enqueuedAt) / 1000) : '';
    const status = q.phase === 'starting' ? html`<span class="badge run">starting</span>` : !job ? html`<span class="badge">arriving</span>` : '';
    return html`<tr ${rowData(q.name, job?.owner?.user, q.phase === 'settling' ? 'settling' : q.phase)}><td class="num">${i + 1}</td><td class="name"><a href="${jobUrl(q.name, q.id)}">${q.name}</a> ${status}</td>
<td>${job?.owner?.user ?? ''}</td><td class="num">${job?.priority ?? ''}</td><td class="num">${job?.nbProc ?? ''}</td>${detailCells(d.details, job?.email, job?.info)}
<td class="num">${waiting}</td><td class="reason">${q.reason}</td><td class="act">${actionLinks(q.name, q.id, d.actionsFor(q))}</td></tr>`;
  });
  const more = d.queued.total > d.queued.jobs.length ? html`<p class="muted">and ${d.queued.total - d.queued.jobs.length} more</p>` : '';
  return html`<section id="queued"><h2>Queued <span class="count">${d.queued.total}</span></h2>
<table><thead><tr><th class="num">#</th><th>Name</th><th>User</th><th class="num">Priority</th><th class="num">nb_proc</th>${detailHeads(d.details)}<th class="num">Waiting</th><th>Reason</th><th></th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="10">no queued job</td></tr>`}</tbody></table>${more}</section>`;
}

function runningSection(d: HomeData): Html {
  const rows = d.running.map((r) => {
    const p = r.progress;
    const bar = p
      ? html`<progress max="100" value="${p.percent}">${p.percent}%</progress><span class="pct">${p.done} / ${p.total}</span>`
      : html`<span class="muted">no progress reported</span>`;
    const time = r.reportedTime !== undefined ? html` <span class="muted">time: ${r.reportedTime} s</span>` : '';
    return html`<tr ${rowData(r.name, r.info.owner?.user, 'running')}><td class="name"><a href="${jobUrl(r.name, r.id)}">${r.name}</a></td><td>${r.info.owner?.user ?? ''}</td><td class="progress">${bar}${time}</td>
<td class="num">${duration((d.now - r.info.startedAt) / 1000)}</td><td>${r.info.host}</td><td class="num">${r.info.nbProc}</td>
${detailCells(d.details, r.info.email, r.info.info)}<td class="act">${actionLinks(r.name, r.id, d.actionsFor(r))}</td></tr>`;
  });
  return html`<section id="running"><h2>Running <span class="count">${d.running.length}</span></h2>
<table><thead><tr><th>Name</th><th>User</th><th>Progress</th><th class="num">Elapsed</th><th>Host</th><th class="num">nb_proc</th>${detailHeads(d.details)}<th></th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="9">no running job</td></tr>`}</tbody></table></section>`;
}

function doneRow(r: DoneRecord, d: HomeData): Html {
  const details = d.details;
  const actions = d.actionsFor({ state: 'done', name: r.name, id: r.id, record: r }).filter((a) => a === 'requeue');
  return html`<tr ${rowData(r.name, r.owner?.user, 'done')}><td class="name"><a href="${jobUrl(r.name, r.id)}">${r.name}</a></td><td>${r.owner?.user ?? ''}</td><td>${outcomeBadge(r.outcome)}</td>
<td>${when(r.startedAt)}</td><td class="num">${duration(r.elapsed)}</td><td class="num">${duration(r.cpu)}</td>
<td class="num">${r.reportedTime !== undefined ? `${r.reportedTime} s` : ''}</td>
<td class="num">${r.nbProc}</td><td>${r.host ?? ''}</td>${detailCells(details, r.email, r.info)}<td class="act">${actionLinks(r.name, r.id, actions)}</td></tr>`;
}

function pageLink(page: number, details: boolean, label: string): Html {
  return html`<a href="/?page=${page}&amp;details=${details ? 1 : 0}">${label}</a>`;
}

function doneSection(d: HomeData): Html {
  const p = d.done;
  const rows = p.records.map((r) => doneRow(r, d));
  const pager = html`<div class="pager">${p.page > 1 ? html`${pageLink(1, d.details, '« first')} ${pageLink(p.page - 1, d.details, '‹ newer')}` : ''}
<span class="muted">page ${p.page} of ${p.pages}</span>
${p.page < p.pages ? html`${pageLink(p.page + 1, d.details, 'older ›')} ${pageLink(p.pages, d.details, 'last »')}` : ''}</div>`;
  return html`<section id="done"><h2>Done <span class="count">${p.total}</span></h2>
<table><thead><tr><th>Name</th><th>User</th><th>Result</th><th>Started</th><th class="num">Elapsed</th><th class="num">CPU time</th><th class="num" title="the job's last time: N line">Job's time</th><th class="num">nb_proc</th><th>Host</th>${detailHeads(d.details)}<th></th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="12">no done job</td></tr>`}</tbody></table>${p.pages > 1 ? pager : ''}</section>`;
}

/** A worker's GPUs and memory, when it has such pools: ` · GPUs 1/4 · 2 GB/16 GB`. */
function poolsOf(w: HomeData['workers'][number]): string {
  const gpus = w.gpus?.length ? ` · GPUs ${w.gpusInUse?.length ?? 0}/${w.gpus.length}` : '';
  const memory = w.memoryMb !== undefined ? ` · ${formatMb(w.memoryInUseMb ?? 0)}/${formatMb(w.memoryMb)}` : '';
  return gpus + memory;
}

function summary(d: HomeData): Html {
  // in use from the running table (exact now), budgets from the heartbeats
  const usedBy = (worker: string) => d.running.filter((r) => r.info.worker === worker).reduce((n, r) => n + r.info.nbProc, 0);
  const inUse = d.running.reduce((n, r) => n + r.info.nbProc, 0);
  const budget = d.workers.reduce((n, w) => n + w.budget, 0);
  const workers = d.workers.map((w) => html`<span class="badge">${w.name}: ${usedBy(w.name)}/${w.budget}${poolsOf(w)}</span> `);
  const paused = d.paused ? html`<strong id="paused">The queue is paused (qm pause): no job starts until qm resume.</strong> · ` : '';
  return html`<p id="summary" class="muted">${paused}${d.workers.length} worker${d.workers.length === 1 ? '' : 's'} · ${inUse} of ${budget} processors in use ${workers}
· <a href="/?details=${d.details ? 0 : 1}&amp;page=${d.done.page}">${d.details ? 'hide' : 'show'} details</a></p>`;
}

const FILTER_BOX = html`<form id="filter" class="filter" role="search">
<input id="filter-name" type="search" placeholder="name" aria-label="filter by name">
<input id="filter-user" type="search" placeholder="user" aria-label="filter by user">
<select id="filter-state" aria-label="filter by state"><option value="">any state</option>
${['queued', 'held', 'begin', 'after', 'running', 'done'].map((s) => html`<option value="${s}">${s}</option>`)}</select></form>`;

const REFRESH_SCRIPT = `
(() => {
  const rate = Number(document.body.dataset.refresh) * 1000;
  const stamp = document.getElementById('updated');
  const field = (id) => document.getElementById(id);
  const waiting = ['queued', 'after', 'held', 'begin', 'starting', 'settling'];
  function applyFilter() {
    const name = field('filter-name').value.trim().toLowerCase();
    const user = field('filter-user').value.trim().toLowerCase();
    const state = field('filter-state').value;
    for (const row of document.querySelectorAll('tr[data-name]')) {
      const d = row.dataset;
      const ok = (!name || d.name.toLowerCase().includes(name)) && (!user || d.user.toLowerCase() === user)
        && (!state || d.state === state || (state === 'queued' && waiting.includes(d.state)));
      row.hidden = !ok;
    }
  }
  for (const id of ['filter-name', 'filter-user', 'filter-state']) field(id).addEventListener('input', applyFilter);
  field('filter').addEventListener('submit', (e) => e.preventDefault());
  async function refresh() {
    try {
      const res = await fetch(location.href, { headers: { accept: 'text/html' }, cache: 'no-store' });
      if (!res.ok) throw new Error(res.status + ' ' + res.statusText);
      const fresh = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const id of ['summary', 'arrays', 'queued', 'running', 'done']) {
        const now = document.getElementById(id);
        const next = fresh.getElementById(id);
        if (now && next && now.innerHTML !== next.innerHTML) now.replaceWith(document.importNode(next, true));
      }
      applyFilter();
      stamp.textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      stamp.textContent = 'cannot update (' + err.message + '), retrying';
    }
    setTimeout(refresh, rate);
  }
  setTimeout(refresh, rate);
})();`;

export function homePage(d: HomeData, nonce: string): Html {
  const body = html`${d.note ? html`<div class="notice">${d.note}</div>` : ''}${summary(d)}${FILTER_BOX}${arraysSection(d)}${runningSection(d)}${queuedSection(d)}${doneSection(d)}`;
  return layout({ title: 'Jobs', nonce, here: 'jobs', body, script: REFRESH_SCRIPT, data: { refresh: d.refreshRate } });
}
