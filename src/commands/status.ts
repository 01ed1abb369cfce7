/**
 * `qm status [--json] [--all]` (SPEC §6), like `squeue`/`pueue status`:
 * queued jobs in run order, running jobs with progress, elapsed time and host,
 * the latest finished ones, and the live workers with their pools. `--json` prints the StatusView of
 * status-view.ts; `--all` lifts the limits on queued and done jobs.
 */
import type { Settings } from '../core/settings-types.js';
import { clock } from '../core/format.js';
import { isoSeconds } from '../core/folders.js';
import { withClient } from './client.js';
import { statusView, type StatusView } from './status-view.js';
import { table } from './table.js';
import { formatMb } from '../core/resources.js';

export interface StatusOptions {
  json?: boolean;
  all?: boolean;
}

const SHOWN = { queued: 50, done: 10 };

export async function status(settings: Settings, opts: StatusOptions): Promise<void> {
  const limits = opts.all ? { queued: Infinity, done: settings.server.keepDone } : SHOWN;
  const view = await withClient(settings, (client) => statusView(client, limits));
  process.stdout.write(opts.json ? `${JSON.stringify(view, null, 2)}\n` : render(view, opts.all ?? false));
}

const dash = (v: string | number | null | undefined) => (v === null || v === undefined || v === '' ? '-' : String(v));

export function render(view: StatusView, allTasks = true): string {
  const parts: string[] = [];
  const more = (shown: number, total: number) => (total > shown ? ` — ${shown} shown, --all for every one` : '');
  if (view.arrays.length > 0) {
    parts.push(`ARRAYS (${view.arrays.length})${allTasks ? '' : ' — their tasks: --all'}\n`);
    parts.push(table(['NAME', 'TASKS'], view.arrays.map((a) => [a.name, `array ${a.spec}: ${a.queued} queued, ${a.running} running, ${a.done} done, ${a.failed} failed`])));
    if (!allTasks) {
      // one line per array: its tasks are listed with --all
      const tasksOf = new Set(view.arrays.map((a) => a.id));
      view = { ...view, queued: view.queued.filter((q) => !q.arrayId || !tasksOf.has(q.arrayId)), running: view.running.filter((r) => !r.arrayId || !tasksOf.has(r.arrayId)) };
    }
  }
  parts.push(`QUEUED (${view.queuedTotal})${more(view.queued.length, view.queuedTotal)}\n`);
  if (view.queued.length > 0) {
    const waitingFor = (q: StatusView['queued'][number]) =>
      q.state === 'starting' ? `starting on ${dash(q.worker)}`
        : q.state === 'after' ? `after ${q.after.join(',')}`
          : q.state === 'settling' ? 'arriving (not queued yet)' : 'queued';
    parts.push(
      table(
        ['#', 'NAME', 'PRIO', 'PROCS', 'OWNER', 'STATE', 'INFO'],
        view.queued.map((q) => [dash(q.position), q.name, dash(q.priority), dash(q.nbProc), dash(q.owner), waitingFor(q), dash(q.info)]),
      ),
    );
  }
  parts.push(`RUNNING (${view.running.length})\n`);
  if (view.running.length > 0) {
    parts.push(
      table(
        ['NAME', 'PROCS', 'ELAPSED', 'PROGRESS', 'HOST', 'WORKER', 'OWNER', 'INFO'],
        view.running.map((r) => [
          r.name,
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
        ['NAME', 'RESULT', 'ELAPSED', 'CPU', 'ENDED', 'FOLDER'],
        view.done.map((d) => [
          d.name,
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
