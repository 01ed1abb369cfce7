#!/usr/bin/env node
/**
 * `qm`: a thin dispatcher (SPEC §6). A plain `qm submit` (submit-argv.ts)
 * and `qm --version` are run straight away; every other command line is read
 * by commander (commands/program.ts). Errors a user must fix are one line on
 * stderr and a non-zero exit.
 */
import { plainSubmit } from './commands/submit-argv.js';

async function run(words: string[]): Promise<number> {
  const plain = plainSubmit(words);
  if (plain) {
    const [{ loadContext }, { submit }] = await Promise.all([import('./commands/context.js'), import('./commands/submit.js')]);
    return submit(loadContext({ config: plain.config }), plain.source, { ...plain.opts, args: plain.args });
  }
  if (words.length === 1 && (words[0] === '-V' || words[0] === '--version')) {
    const { createRequire } = await import('node:module');
    const { version } = createRequire(import.meta.url)('../package.json') as { version: string };
    process.stdout.write(`qm ${version}\n`);
    return 0;
  }
  return (await import('./commands/program.js')).runProgram(process.argv);
}

async function main(): Promise<void> {
  let code: number;
  try {
    code = await run(process.argv.slice(2));
  } catch (err) {
    const { UserError } = await import('./commands/context.js');
    if (err instanceof UserError) {
      process.stderr.write(`qm: ${err.message}\n`);
      process.exit(err.code);
    }
    process.stderr.write(`qm: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
  process.exit(code);
}

void main();
