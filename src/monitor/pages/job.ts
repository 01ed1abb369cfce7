/**
 * A job's page: what it is (state, descriptor values, times, result), the
 * actions allowed on it, its files with sizes, and the tail of process.log
 * that follows the file as it grows (and reloads when the job changes state).
 */
import path from 'node:path';
import { html, type Html } from '../html.js';
import { ACTION_LABEL, type ActionName } from '../actions.js';
import type { FileEntry } from '../files.js';
import type { JobView } from '../../core/read-model.js';
import { describeArray, type ArraySummary } from '../../core/array-summary.js';
import { duration, encodePath, jobUrl, size, when } from './format.js';
import { outcomeBadge } from './home.js';
import { layout } from './layout.js';
import { formatMb } from '../../core/resources.js';

export interface JobPageData {
  view: JobView;
  /** folder relative to QM_FOLDER */
  folder: string;
  descriptor: Record<string, string> | undefined;
  files: FileEntry[];
  truncated: boolean;
  log: { text: string; next: number; cut: boolean } | undefined;
  actions: ActionName[];
  note: string | undefined;
  now: number;
  /** the job is an array's folder (its name is the array's): its tasks' counts */
  array?: ArraySummary | undefined;
}

export function stateBadge(view: JobView): Html {
  if (view.state === 'done') return outcomeBadge(view.record.outcome);
  if (view.state === 'running') return html`<span class="badge run">running</span>`;
  return html`<span class="badge">${view.job ? (view.phase === 'starting' ? 'queued, next' : 'queued') : 'arriving'}</span>`;
}

function facts(view: JobView, folder: string, now: number): [string, Html | string][] {
  const rows: [string, Html | string][] = [['Folder', folder]];
  if (view.id) rows.push(['Id', view.id]);
  if (view.state === 'queued' && view.job) {
    const j = view.job;
    rows.push(['Waits', view.reason], ['User', j.owner?.user ?? '']);
    if (j.beginAt !== undefined) rows.push(['Begins', when(j.beginAt)]);
    rows.push(['nb_proc', String(j.nbProc)], ...resourceRows(j.nbGpu ? `${j.nbGpu}` : undefined, j.memoryMb));
    rows.push(['Priority', String(j.priority)], ['Queued', when(j.enqueuedAt)]);
    rows.push(['Waiting', duration((now - j.enqueuedAt) / 1000)]);
    if (j.after.length) rows.push(['After', j.after.join(', ')]);
  } else if (view.state === 'running') {
    const r = view.info;
    const p = view.progress;
    rows.push(['Worker', `${r.worker} on ${r.host}`], ['User', r.owner?.user ?? ''], ['nb_proc', String(r.nbProc)]);
    if (r.cpus.length) rows.push(['CPUs', r.cpus.join(',')]);
    rows.push(...resourceRows(r.gpus?.join(','), r.memoryMb));
    rows.push(['Started', when(r.startedAt)], ['Elapsed', duration((now - r.startedAt) / 1000)]);
    rows.push([
      'Progress',
      p ? html`<progress max="100" value="${p.percent}"></progress><span class="pct">${p.done} / ${p.total}</span>` : 'not reported',
    ]);
  } else if (view.state === 'done') {
    const r = view.record;
    rows.push(['Result', outcomeBadge(r.outcome)], ['User', r.owner?.user ?? ''], ['nb_proc', String(r.nbProc)]);
    rows.push(...resourceRows(r.gpus?.join(','), r.memoryMb));
    rows.push(['Priority', String(r.priority)]);
    if (r.worker) rows.push(['Worker', `${r.worker} on ${r.host ?? '?'}`]);
    rows.push(['Queued', when(r.enqueuedAt)], ['Started', when(r.startedAt)], ['Ended', when(r.endedAt)]);
    rows.push(['Elapsed', duration(r.elapsed)], ['CPU time', duration(r.cpu)]);
  }
  return rows;
}

/** An array's folder: the array's id, spec and how many of its tasks are where. */
function arrayFacts(a: ArraySummary, folder: string): [string, string][] {
  return [['Folder', folder], ['Id', a.id], ['Tasks', describeArray(a)]];
}

/** GPUs (count asked, or ids held) and memory, where the job has them (SPEC §8). */
function resourceRows(gpus: string | undefined, memoryMb: number | undefined): [string, string][] {
  const rows: [string, string][] = [];
  if (gpus) rows.push(['GPUs', gpus]);
  if (memoryMb !== undefined) rows.push(['Memory', memoryMb === 0 ? 'all of a worker\'s' : formatMb(memoryMb)]);
  return rows;
}

function props(rows: [string, Html | string][]): Html {
  return html`<dl class="props">${rows.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

function filesTable(d: JobPageData): Html {
  const { view } = d;
  const rows = d.files.map((f) => {
    const indent = f.path.split('/').length - 1;
    const shown = html`${'\u00a0\u00a0'.repeat(indent)}${path.posix.basename(f.path)}${f.kind === 'dir' ? '/' : f.kind === 'link' ? ' →' : ''}`;
    const link = f.kind === 'dir' ? shown : html`<a href="${jobUrl(view.name, view.id, `view/${encodePath(f.path)}`)}">${shown}</a>`;
    const download = f.kind === 'file' ? html`<a href="${jobUrl(view.name, view.id, `download/${encodePath(f.path)}`)}">download</a>` : '';
    return html`<tr><td>${link}</td><td class="num">${f.kind === 'file' ? size(f.size) : ''}</td><td>${when(f.mtime)}</td><td>${download}</td></tr>`;
  });
  const more = d.truncated ? html`<p class="muted">only the first ${d.files.length} entries are listed; the zip has them all</p>` : '';
  return html`<table><thead><tr><th>File</th><th class="num">Size</th><th>Modified</th><th></th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td class="empty" colspan="4">empty folder</td></tr>`}</tbody></table>${more}`;
}

const TAIL_SCRIPT = `
(() => {
  const body = document.body.dataset;
  const pre = document.getElementById('log');
  let next = Number(body.next);
  async function poll() {
    try {
      const res = await fetch(body.logUrl + '&offset=' + next, { cache: 'no-store' });
      const data = await res.json();
      if (!res.ok) throw new Error(data.error || res.status);
      if (data.state !== body.state) { location.reload(); return; }
      if (data.text) {
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent += data.text;
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
      next = data.next;
      document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    } catch (err) {
      document.getElementById('updated').textContent = 'cannot update (' + err.message + '), retrying';
    }
    if (body.state !== 'done') setTimeout(poll, 1000);
  }
  pre.scrollTop = pre.scrollHeight;
  if (body.state !== 'done') setTimeout(poll, 1000);
})();`;

export function jobPage(d: JobPageData, nonce: string): Html {
  const { view } = d;
  const actions = d.actions.map((a) => html`<a class="button danger" href="${jobUrl(view.name, view.id, a)}">${ACTION_LABEL[a]}</a>`);
  const descriptor = d.descriptor
    ? props(Object.entries(d.descriptor).map(([k, v]) => [k, v] as [string, string]))
    : html`<p class="muted">no descriptor could be read</p>`;
  const log = d.log
    ? html`${d.log.cut ? html`<p class="muted">the last part of process.log:</p>` : ''}<pre id="log">${d.log.text}</pre>`
    : html`<pre id="log"></pre><p class="muted">no process.log yet</p>`;
  const body = html`${d.note ? html`<div class="notice">${d.note}</div>` : ''}
<h1>${view.name} ${d.array ? html`<span class="badge">array</span>` : stateBadge(view)}</h1>
<div class="actions"><a class="button" href="${jobUrl(view.name, view.id, 'zip')}">Download as zip</a>${actions}<a class="button" href="/">Back to the jobs</a></div>
<div class="grid2"><section><h2>Job</h2>${props(d.array ? arrayFacts(d.array, d.folder) : facts(view, d.folder, d.now))}</section>
<section><h2>Descriptor</h2>${descriptor}</section></div>
<section><h2>process.log</h2>${log}</section>
<section><h2>Files <span class="count">${d.files.length}</span></h2>${filesTable(d)}</section>`;
  const logUrl = jobUrl(view.name, view.id, 'log') + (view.id ? '' : '?');
  return layout({
    title: view.name,
    nonce,
    here: 'none',
    body,
    script: TAIL_SCRIPT,
    data: { state: view.state, next: d.log?.next ?? 0, 'log-url': logUrl },
  });
}
