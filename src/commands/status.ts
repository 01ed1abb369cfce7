/**
 * `qm status [--json] [--all]` (SPEC §6, §10), like `squeue`/`pueue status`:
 * queued jobs in run order with the REASON each waits, running jobs with
 * progress, elapsed time and host, the latest finished ones, each with its
 * USER, and the live workers with their pools. `--json` prints the StatusView
 * of status-view.ts; `--all` lifts the limits on queued and done jobs;
 * `-u/--me/-t/-n` keep the jobs of those users, states and names (squeue's filters).
 */
import type { Settings } from '../core/settings-types.js';
import { clock } from '../core/format.js';
import { isoSeconds } from '../core/folders.js';
import { withClient } from './client.js';
import { statusView, type StatusView } from './status-view.js';
import { describeArray } from '../core/array-summary.js';
import { table } from './table.js';
import { formatMb } from '../core/resources.js';
import { UserError } from './context.js';
import os from 'node:os';

export interface StatusOptions {
  json?: boolean;
  all?: boolean;
  user?: string[];
  me?: boolean;
  state?: string[];
  name?: string[];
}

const SHOWN = { queued: 50, done: 10 };
const QUEUED_STATES = ['starting', 'queued', 'after', 'held', 'begin', 'settling'];
const STATES = [...QUEUED_STATES, 'running', 'done'];

export async function status(settings: Settings, opts: StatusOptions): Promise<void> {
  const filter = filterOf(opts);
  const limits = opts.all ? { queued: Infinity, done: settings.server.keepDone } : filter ? { queued: Infinity, done: SHOWN.done } : SHOWN;
  const full = await withClient(settings, (client) => statusView(client, limits));
  const view = filter ? filter(full, opts.all ? Infinity : SHOWN.queued) : full;
  process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : render(view, opts.all ?? false));
}

const words = (list: string[] | undefined) => (list ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);

/** The view narrowed to the users, states and names asked; undefined when nothing narrows it. */
function filterOf(opts: StatusOptions): ((view: StatusView, queuedShown: number) => StatusView) | undefined {
  const users = new Set(words(opts.user));
  if (opts.me) users.add(os.userInfo().username);
  const states = new Set(words(opts.state).map((s) => s.toLowerCase()));
  for (const s of states) {
    if (!STATES.includes(s)) throw new UserError(`-t ${s}: expected one of ${STATES.join(', ')} (queued: every waiting job)`, 2);
  }
  const names = new Set(words(opts.name));
  if (users.size + states.size + names.size === 0) return undefined;
  const keep = (user: string | null, name: string, state: string, waiting: boolean) =>
    (users.size === 0 || users.has(user ?? '')) &&
    (names.size === 0 || names.has(name)) &&
    (states.size === 0 || states.has(state) || (waiting && states.has('queued')));
  return (view, queuedShown) => {
    const queued = view.queued.filter((q) => keep(q.user, q.name, q.state, true));
    const done = view.done.filter((d) => keep(d.user, d.name, 'done', false));
    return {
      ...view,
      queued: queued.slice(0, queuedShown),
      queuedTotal: queued.length,
      running: view.running.filter((r) => keep(r.user, r.name, 'running', false)),
      done,
      doneTotal: done.length,
    };
  };
}

const dash = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? '-' : String(v));

export function render(view: StatusView, allTasks = true): string {
  const parts: string[] = [];
  const more = (shown: number, total: number) => (total > shown ? ` — ${shown} shown, --all for every one` : '');
  if (view.paused) parts.push('PAUSED: no job starts until qm resume\n');
  // as squeue: an array's queued tasks fold into its line, its running tasks are listed
  let foldedTasks = 0;
  if (view.arrays.length > 0) {
    parts.push(`ARRAYS (${view.arrays.length})${allTasks ? '' : ' — their queued tasks: --all'}\n`);
    parts.push(table(['NAME', 'TASKS'], view.arrays.map((a) => [a.name, describeArray(a)])));
    if (!allTasks) {
      const tasksOf = new Set(view.arrays.map((a) => a.id));
      foldedTasks = view.arrays.reduce((sum, a) => sum + a.queued, 0);
      view = { ...view, queued: view.queued.filter((q) => !q.arrayId || !tasksOf.has(q.arrayId)) };
    }
  }
  const folded = foldedTasks > 0 ? ` — ${foldedTasks} of them array tasks, counted under ARRAYS` : '';
  parts.push(`QUEUED (${view.queuedTotal})${folded}${more(view.queued.length, view.queuedTotal - foldedTasks)}\n`);
  if (view.queued.length > 0) {
    const waitingFor = (q: StatusView['queued'][number]) =>
      q.state === 'starting' ? `starting on ${dash(q.worker)}` : q.state === 'settling' ? 'arriving' : q.state;
    parts.push(
      table(
        ['#', 'NAME', 'USER', 'PRIO', 'PROCS', 'STATE', 'REASON', 'INFO'],
        view.queued.map((q) => [dash(q.position), q.name, dash(q.user), dash(q.priority), dash(q.nbProc), waitingFor(q), q.reason, dash(q.info)]),
      ),
    );
  }
  parts.push(`RUNNING (${view.running.length})\n`);
  if (view.running.length > 0) {
    parts.push(
      table(
        ['NAME', 'USER', 'PROCS', 'ELAPSED', 'PROGRESS', 'HOST', 'WORKER', 'OWNER', 'INFO'],
        view.running.map((r) => [
          r.name,
          dash(r.user),
          String(r.nbProc),
          clock(r.elapsedSeconds),
          [r.progress ? `${r.progress.done}/${r.progress.total} (${r.progress.percent}%)` : '-', r.reportedSeconds === null ? '' : ` time: ${r.reportedSeconds} s`].join(''),
          r.host,
          r.worker,
          dash(r.owner),
          dash(r.info),
        ]),
      ),
    );
  }
  parts.push(`DONE (${view.doneTotal})${more(view.done.length, view.doneTotal)}\n`);
  if (view.done.length > 0) {
    parts.push(
      table(
        ['NAME', 'USER', 'RESULT', 'ELAPSED', 'CPU', 'ENDED', 'FOLDER'],
        view.done.map((d) => [
          d.name,
          dash(d.user),
          d.result,
          d.elapsedSeconds === null ? '-' : clock(d.elapsedSeconds),
          d.cpuSeconds === null ? '-' : clock(d.cpuSeconds),
          isoSeconds(new Date(d.endedAt)).replace('T', ' '),
          d.folder,
        ]),
      ),
    );
  }
  if (view.workers.length > 0) {
    parts.push(`WORKERS (${view.workers.length})\n`);
    parts.push(
      table(
        ['WORKER', 'HOST', 'PROCS', 'GPUS', 'MEMORY'],
        view.workers.map((w) => [
          w.name,
          w.host,
          `${w.processors.inUse}/${w.processors.total}`,
          w.gpus.ids.length ? `${w.gpus.inUse.length}/${w.gpus.ids.length} (${w.gpus.ids.join(',')})` : '-',
          w.memoryMb ? `${formatMb(w.memoryMb.inUse)}/${formatMb(w.memoryMb.total)}` : '-',
        ]),
      ),
    );
  }
  return parts.join('');
}
