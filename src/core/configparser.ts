/**
 * Reader for the Python ConfigParser dialect that QM 0.4 used for QMserv.cfg
 * and for cfg job descriptors (SPEC §2, §5):
 * 1. `[section]` headers; section names are case-sensitive, `getSection` also
 *    finds them case-insensitively; a repeated section is merged.
 * 2. `key = value` / `key : value` (the first `=` or `:` splits); keys are
 *    lower-cased, values trimmed, a repeated key: the last one wins.
 * 3. Full-line `#`/`;` comments only: a `;` or `#` inside a value is part of it.
 * 4. A line indented deeper than its key continues the value (joined by "\n");
 *    a blank line ends the value.
 * 5. `%` is literal: no interpolation. `[DEFAULT]` keys show through in
 *    every section, as in Python.
 */

export interface IniSection {
  /** Name as written in the header. */
  name: string;
  /** Line of the (first) header. */
  line: number;
  /** Lower-cased key -> trimmed value. */
  values: Map<string, string>;
  /** Lower-cased key -> 1-based line where its (last) definition starts. */
  lines: Map<string, number>;
}

export interface IniDoc {
  /** Name used in error messages (usually the file name). */
  source: string;
  /** Sections by exact name, in file order. */
  sections: Map<string, IniSection>;
}

export class IniSyntaxError extends Error {
  constructor(source: string, line: number, problem: string) {
    super(`${source} line ${line}: ${problem}`);
    this.name = 'IniSyntaxError';
  }
}

const DEFAULT_SECTION = 'DEFAULT';
// Python's SECTCRE `\[(?P<header>.+)\]`: greedy, so `[a] x]` names section `a] x`.
const HEADER = /^\[(.+)\]/;
// Python's OPTCRE: the key is everything before the first `=` or `:`.
const OPTION = /^(.*?)\s*[=:]\s*(.*)$/;

export function parseIni(text: string, source: string): IniDoc {
  const doc: IniDoc = { source, sections: new Map() };
  let section: IniSection | undefined;
  // The key whose value an indented line would continue, and its indent.
  let open: { key: string; indent: number } | undefined;

  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const stripped = raw.trim();
    if (stripped === '') {
      open = undefined;
      return;
    }
    if (stripped.startsWith('#') || stripped.startsWith(';')) return;

    const indent = raw.length - raw.trimStart().length;
    if (section && open && indent > open.indent) {
      const previous = section.values.get(open.key) ?? '';
      section.values.set(open.key, previous === '' ? stripped : `${previous}\n${stripped}`);
      return;
    }

    const header = HEADER.exec(stripped);
    if (header) {
      const name = header[1].trim();
      if (name === '') throw new IniSyntaxError(source, lineNo, 'empty section name');
      section = doc.sections.get(name);
      if (!section) {
        section = { name, line: lineNo, values: new Map(), lines: new Map() };
        doc.sections.set(name, section);
      }
      open = undefined;
      return;
    }

    const option = OPTION.exec(stripped);
    if (!option) {
      throw new IniSyntaxError(source, lineNo, `expected "key = value", "key : value" or "[section]", got ${JSON.stringify(clip(stripped))}`);
    }
    const key = option[1].toLowerCase();
    if (key === '') throw new IniSyntaxError(source, lineNo, 'a value without a key');
    if (!section) throw new IniSyntaxError(source, lineNo, `key "${key}" before any [section] header`);
    section.values.set(key, option[2]);
    section.lines.set(key, lineNo);
    open = { key, indent };
  });
  return doc;
}

/**
 * The section named `name`: the exact name if present, else the first one
 * whose name matches case-insensitively; `[DEFAULT]` keys fill the gaps.
 */
export function getSection(doc: IniDoc, name: string): IniSection | undefined {
  let found = doc.sections.get(name);
  if (!found) {
    const wanted = name.toLowerCase();
    found = [...doc.sections.values()].find((s) => s.name.toLowerCase() === wanted);
  }
  const defaults = doc.sections.get(DEFAULT_SECTION);
  if (!found || !defaults || found === defaults) return found;
  return {
    name: found.name,
    line: found.line,
    values: new Map([...defaults.values, ...found.values]),
    lines: new Map([...defaults.lines, ...found.lines]),
  };
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
