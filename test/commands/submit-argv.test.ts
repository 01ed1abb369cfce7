/**
 * The fast path of a plain `qm submit` (commands/submit-argv.ts) reads a
 * command line as commander does (commands/program.ts): the same path,
 * options and script arguments; whatever it does not read, it leaves to
 * commander.
 */
import { describe, expect, it } from 'vitest';
import { plainSubmit } from '../../src/commands/submit-argv.js';
import { program, runProgram } from '../../src/commands/program.js';

/** What commander reads from `qm WORDS`, the submit action replaced by a recorder. */
async function viaCommander(words: string[]): Promise<unknown> {
  let seen: unknown;
  const submit = program.commands.find((c) => c.name() === 'submit')!;
  submit.action((source: string | undefined, args: string[], opts: Record<string, unknown>) => {
    seen = { config: program.opts<{ config?: string }>().config, source, opts: { ...opts }, args };
  });
  expect(await runProgram(['node', 'qm', ...words])).toBe(0);
  return seen;
}

const PLAIN: string[][] = [
  ['submit', 'job'],
  ['submit'],
  ['submit', 'job', '-c', 'my.cfg'],
  ['-c', 'my.cfg', 'submit', 'job'],
  ['--config=my.cfg', 'submit', 'job'],
  ['--config', 'my.cfg', 'submit', '--config', 'other.cfg', 'job'],
  ['submit', '--nb-proc', '4', 'job'],
  ['submit', 'job', '--nb-proc=4', '--priority', '3'],
  ['submit', 'job.sh', 'a', 'b', '--nb-proc', '2'],
  ['submit', 'job.sh', '--nb-proc', '2', 'a', '-x', '--wait', '-'],
  ['submit', '-d', 'a', '--after', 'b,c', '--dependency', 'afterok:x', '-d', 'afterany:y', 'job'],
  ['submit', '-W', '-H', '--move', 'job'],
  ['submit', '--wrap', 'echo hi; exit 3', '--time=0'],
  ['submit', '-J', 'named', '-a', '0-3%2', '-t', '10', '-b', 'now+60', '--mem', '1G', '--gpus', '1', '-n', '2', 'job'],
  ['submit', '--priority=-5', 'job'],
  ['submit', '--name=', 'job'],
  ['submit', 'job', '--bogus', 'x'],
  ['submit', 'job', '-n4'],
  ['submit', 'job', '-c', 'my.cfg', 'x', '-c', 'y'],
  ['submit', 'submit', 'submit'],
];

const LEFT: string[][] = [
  [],
  ['status'],
  ['-V'],
  ['--version'],
  ['submit', '-'],
  ['submit', '--help'],
  ['submit', 'job', '-h'],
  ['-h', 'submit', 'job'],
  ['submit', '--priority', '-5', 'job'],
  ['submit', '-WH', 'job'],
  ['submit', '-n4', 'job'],
  ['submit', '--', 'job'],
  ['submit', 'job', '--', 'x'],
  ['--bogus', 'submit', 'job'],
  ['submit', '--bogus', 'job'],
  ['--wait', 'submit', 'job'],
  ['submit', '--wait=yes', 'job'],
  ['submit', 'job', '--nb-proc'],
  ['-c', 'submit', 'job'],
];

describe('qm submit read without commander', () => {
  it('reads a plain command line as commander does', async () => {
    for (const words of PLAIN) {
      const fast = plainSubmit(words);
      expect(fast, words.join(' ')).toBeDefined();
      expect(fast, words.join(' ')).toEqual(await viaCommander(words));
    }
  });

  it('leaves the others to commander', () => {
    for (const words of LEFT) expect(plainSubmit(words), words.join(' ')).toBeUndefined();
  });

  it('reads what commander reads where commander reads them too', async () => {
    for (const words of [['submit', '-WH', 'job'], ['submit', '--priority', '-5', 'job'], ['submit', 'job', '--', 'x', '--wait']]) {
      const seen = (await viaCommander(words)) as { source: string };
      expect(seen.source).toBe('job');
    }
  });
});
