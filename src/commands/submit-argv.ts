/**
 * A plain `qm submit` command line, read without commander (loading commander
 * and defining every command was a good part of a submission's start):
 * `qm [-c FILE] submit [OPTION...] [PATH [OPTION...] [ARG...]]`, each option
 * as `--long VALUE`, `--long=VALUE`, `-s VALUE`, `--flag` or `-f`. As with
 * commander after program.ts's submitArgsApart, the first word after PATH
 * that is not an option of qm submit starts the script's arguments. Anything
 * else (help, a value starting with "-", short options run together, `--`,
 * `-` for stdin, an unknown option before PATH) is left to commander, which
 * reads the same words the same way (test/commands/submit-argv.test.ts).
 */
import { SUBMIT_OPTIONS, shapeOf, type OptionShape } from './submit-options.js';

export interface PlainSubmit {
  /** -c/--config */
  config: string | undefined;
  source: string | undefined;
  /** the options, under commander's keys (--nb-proc → nbProc), as commander gives them */
  opts: Record<string, string | true | string[]>;
  args: string[];
}

const CONFIG: OptionShape = { short: '-c', long: '--config', key: 'config', valued: true, repeat: false };
/** options that make commander do something else than submit */
const LEFT_TO_COMMANDER = new Set(['-h', '--help']);

let names: Map<string, OptionShape> | undefined;

function optionNamed(name: string): OptionShape | undefined {
  if (!names) {
    names = new Map();
    for (const shape of [CONFIG, ...SUBMIT_OPTIONS.map(shapeOf)]) {
      names.set(shape.long, shape);
      if (shape.short) names.set(shape.short, shape);
    }
  }
  return names.get(name);
}

/** `words`: the command line after `qm`. Undefined unless it is a plain `qm submit`. */
export function plainSubmit(words: string[]): PlainSubmit | undefined {
  const found: PlainSubmit = { config: undefined, source: undefined, opts: {}, args: [] };
  let command = false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('-') || word === '-') {
      if (!command) {
        if (word !== 'submit') return undefined;
        command = true;
      } else if (found.source === undefined) {
        if (word === '-') return undefined;
        found.source = word;
      } else return { ...found, args: words.slice(i) };
      continue;
    }
    const eq = word.startsWith('--') ? word.indexOf('=') : -1;
    const name = eq > 0 ? word.slice(0, eq) : word;
    if (word === '--' || LEFT_TO_COMMANDER.has(name)) return undefined;
    const shape = optionNamed(name);
    if (!shape) return found.source !== undefined ? { ...found, args: words.slice(i) } : undefined;
    if (!command && shape !== CONFIG) return undefined;
    let value: string | true = true;
    if (eq > 0) {
      if (!shape.valued) return undefined;
      value = word.slice(eq + 1);
    } else if (shape.valued) {
      const next = words[i + 1];
      if (next === undefined || next.startsWith('-')) return undefined;
      value = next;
      i++;
    }
    if (shape === CONFIG) found.config = value as string;
    else if (shape.repeat) found.opts[shape.key] = [...((found.opts[shape.key] as string[] | undefined) ?? []), value as string];
    else found.opts[shape.key] = value;
  }
  return command ? found : undefined;
}
