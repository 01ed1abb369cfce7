/**
 * `qm submit`'s --nb-proc, -n, --gpus, --mem, --priority, --time, --after, --hold and --begin, written into the
 * descriptor of the job's copy (never the user's original), so that they are
 * part of the folder and survive a rebuild of the queue from QM_qJobs:
 * - cfg: `key = value` lines at the top of [QMOptions], the same keys removed;
 * - xml: `<key value="..."/>` elements before the closing root tag, the same
 *   keys removed;
 * - shell mode: `#QM key=value` lines at the end of the script's leading
 *   comment block, where they override its `#SBATCH` lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Descriptor } from '../core/descriptor-types.js';

export type OverrideKey =
  | 'nb_proc' | 'ntasks' | 'nb_gpu' | 'memory' | 'priority' | 'time_limit' | 'after'
  | 'dependency' | 'array' | 'args' | 'submit_dir' | 'submit_host' | 'hold' | 'begin';
export type Overrides = Partial<Record<OverrideKey, string>>;

/**
 * Writes `overrides` into the descriptor `d` read from `dir`. Returns the
 * original text (to put back if the submission fails), or undefined when
 * there was nothing to write.
 */
export function writeOverrides(dir: string, d: Descriptor, overrides: Overrides): string | undefined {
  if (Object.keys(overrides).length === 0) return undefined;
  const file = path.join(dir, d.file);
  const original = fs.readFileSync(file, 'utf8');
  const patch = d.format === 'cfg' ? patchCfg : d.format === 'xml' ? patchXml : patchScript;
  fs.writeFileSync(file, patch(original, overrides));
  return original;
}

const SECTION = 'QMOptions';
const HEADER = /^\[(.+)\]/;
const OPTION = /^(.*?)\s*[=:]/;

/** Lines, and the line ending the text uses. */
function splitLines(text: string): { lines: string[]; eol: string } {
  return { lines: text.split(/\r?\n/), eol: text.includes('\r\n') ? '\r\n' : '\n' };
}

/** Follows the reading rules of configparser.ts: the section QM reads, key lines, indented continuations. */
export function patchCfg(text: string, overrides: Overrides): string {
  const { lines, eol } = splitLines(text);
  const headers = lines.map((raw) => HEADER.exec(raw.trim())?.[1].trim());
  const target = headers.includes(SECTION) ? SECTION : headers.find((h) => h?.toLowerCase() === SECTION.toLowerCase());
  const out: string[] = [];
  let section: string | undefined;
  let open: number | undefined; // indent of the key whose value continues
  let dropping = false;
  let seen = 0; // times the target section's header was seen
  let insertAt = -1; // after the last line of the section's first part
  for (const raw of lines) {
    const stripped = raw.trim();
    const indent = raw.length - raw.trimStart().length;
    if (stripped === '' || stripped.startsWith('#') || stripped.startsWith(';')) {
      if (stripped === '') open = undefined; // a blank line ends a value; a comment does not
      out.push(raw);
      continue;
    }
    const inFirstPart = section === target && seen === 1;
    if (open !== undefined && indent > open) {
      if (!dropping) out.push(raw);
      if (!dropping && inFirstPart) insertAt = out.length;
      continue;
    }
    const header = HEADER.exec(stripped);
    if (header) {
      section = header[1].trim();
      open = undefined;
      out.push(raw);
      if (section === target && ++seen === 1) insertAt = out.length;
      continue;
    }
    const option = OPTION.exec(stripped);
    open = option ? indent : undefined;
    dropping = section === target && option !== null && Object.hasOwn(overrides, option[1].toLowerCase());
    if (dropping) continue;
    out.push(raw);
    if (inFirstPart) insertAt = out.length;
  }
  if (insertAt < 0) throw new Error(`no [${SECTION}] section to write the options in`);
  // at the end of the section: a line there cannot be read as the continuation of another
  out.splice(insertAt, 0, ...Object.entries(overrides).map(([key, value]) => `${key} = ${value}`));
  return out.join(eol);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function patchXml(text: string, overrides: Overrides): string {
  let patched = text;
  for (const key of Object.keys(overrides)) {
    const element = new RegExp(`<${key}(?=[\\s/>])[^>]*?/>|<${key}(?=[\\s>])[^>]*>[\\s\\S]*?</${key}\\s*>`, 'gi');
    patched = patched.replace(element, '');
  }
  const added = Object.entries(overrides).map(([key, value]) => `    <${key} value="${escapeXml(value)}"/>\n`).join('');
  const closing = /<\/\s*[^\s>]+\s*>\s*$/.exec(patched);
  if (closing) return patched.slice(0, closing.index) + added + patched.slice(closing.index);
  // a root with nothing inside: <PARAMETER/>
  const empty = /<([^\s/>?!]+)([^>]*?)\/>\s*$/.exec(patched);
  if (!empty) throw new Error('no closing root tag to add the options before');
  return `${patched.slice(0, empty.index)}<${empty[1]}${empty[2]}>\n${added}</${empty[1]}>\n`;
}

export function patchScript(text: string, overrides: Overrides): string {
  const { lines, eol } = splitLines(text);
  const directives = Object.entries(overrides).map(([key, value]) => `#QM ${key}=${value}`);
  let firstCommand = lines.findIndex((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  if (firstCommand < 0) firstCommand = lines.at(-1) === '' ? lines.length - 1 : lines.length;
  lines.splice(firstCommand, 0, ...directives);
  return lines.join(eol);
}
