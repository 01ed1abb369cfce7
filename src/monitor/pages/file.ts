/** One file of a job folder: text shown escaped, anything else offered for download. */
import { html, type Html } from '../html.js';
import type { JobView } from '../../core/read-model.js';
import { encodePath, jobUrl, size } from './format.js';
import { layout } from './layout.js';

export interface FilePageData {
  view: JobView;
  relPath: string;
  size: number;
  /** the text shown, or undefined for a binary file */
  text: string | undefined;
  /** the text is the first part of a bigger file */
  cut: boolean;
}

export function filePage(d: FilePageData, nonce: string): Html {
  const { view } = d;
  const download = jobUrl(view.name, view.id, `download/${encodePath(d.relPath)}`);
  const content =
    d.text === undefined
      ? html`<p>This file is not text (${size(d.size)}). <a class="button" href="${download}">Download it</a></p>`
      : html`${d.cut ? html`<p class="muted">the first ${size(Buffer.byteLength(d.text))} of ${size(d.size)}; download it for the rest</p>` : ''}<pre>${d.text}</pre>`;
  const body = html`<h1><a href="${jobUrl(view.name, view.id)}">${view.name}</a> / ${d.relPath}</h1>
<div class="actions"><a class="button" href="${download}">Download</a><a class="button" href="${jobUrl(view.name, view.id)}">Back to the job</a></div>
<section>${content}</section>`;
  return layout({ title: `${view.name}/${d.relPath}`, nonce, here: 'none', body });
}
