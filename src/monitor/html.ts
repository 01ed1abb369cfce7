/**
 * HTML without a template engine: the `html` tagged template escapes every
 * interpolated value unless it is already `Html` (a fragment built the same
 * way), so user text (folder names, info, log lines) can only ever be text.
 */

/** A piece of markup known to be safe: built by `html` or given to `trusted`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Markup written in this code base (never user text). */
export function trusted(markup: string): Html {
  return new Html(markup);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/**
 * `html\`<td>${name}</td>\`` → the name escaped. Arrays are joined, and
 * undefined/null/false render as nothing (for `${cond && html\`...\`}`).
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}
