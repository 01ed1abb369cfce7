/**
 * The confirmation step of an action: what will happen, and a form that
 * POSTs it with its CSRF token. Also the page saying an action was refused.
 */
import { html, type Html } from '../html.js';
import { ACTION_LABEL, type ActionName } from '../actions.js';
import type { JobView } from '../../core/read-model.js';
import { jobUrl } from './format.js';
import { layout } from './layout.js';
import { stateBadge } from './job.js';

function consequence(action: ActionName, view: JobView): string {
  if (action === 'kill' && view.state === 'running') {
    return `The job's processes on ${view.info.host} get SIGTERM, then SIGKILL after kill_grace. Its folder goes to QM_dJobs, marked killed.`;
  }
  if (action === 'cancel') return 'The job will not run. Its folder goes to QM_dJobs, marked cancelled.';
  if (action === 'hold') return 'The job stays in QM_qJobs but does not start until it is released (qm release).';
  if (action === 'release') return 'The job goes back to the queue (and still waits for its begin time, if it has one).';
  if (action === 'requeue' && view.state === 'done') {
    return `A copy of ${view.record.folder}, without process.log and QM_REASON.txt, is queued as a new run. The old folder stays.`;
  }
  if (view.state === 'done') return `Its folder ${view.record.folder} and all its files are removed for good, with its record.`;
  return 'Its folder and all its files are removed from QM_qJobs for good; it will not run.';
}

export function confirmPage(action: ActionName, view: JobView, token: string, nonce: string): Html {
  const body = html`<h1>${ACTION_LABEL[action]} ${view.name}? ${stateBadge(view)}</h1>
<section><p>${consequence(action, view)}</p>
<form method="post" action="${jobUrl(view.name, view.id, action)}" class="actions">
<input type="hidden" name="csrf" value="${token}"><input type="hidden" name="id" value="${view.id ?? ''}">
<button type="submit" class="danger solid" id="confirm">${ACTION_LABEL[action]} ${view.name}</button>
<a class="button" href="${jobUrl(view.name, view.id)}">No, back to the job</a></form></section>`;
  return layout({ title: `${ACTION_LABEL[action]} ${view.name}`, nonce, here: 'none', body });
}

export function messagePage(title: string, message: string, back: string, nonce: string, bad = false): Html {
  const body = html`<h1>${title}</h1><div class="notice${bad ? ' bad' : ''}">${message}</div><a class="button" href="${back}">Back</a>`;
  return layout({ title, nonce, here: 'none', body });
}
