#!/usr/bin/env node
/**
 * `qm`: a thin dispatcher (SPEC §6). A plain `qm submit` (submit-argv.ts) is
 * run from the submit bundle (commands/submit-main.ts, bundled into
 * dist/submit/ by `npm run build`), and `qm --version` straight away; every
 * other command line is read by commander (commands/program.ts). Errors a
 * user must fix are one line on stderr and a non-zero exit.
 */
import { plainSubmit, type PlainSubmit } from './commands/submit-argv.js';

type SubmitMain = typeof import('./commands/submit-main.js');

/** The submit bundle; its modules one by one if it was not made (a build by tsc alone). */
async function submitMain(): Promise<SubmitMain> {
  const bundle = new URL('./submit/submit-main.js', import.meta.url);
  try {
    return (await import(bundle.href)) as SubmitMain;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !(err as Error).message.includes(bundle.pathname)) throw err;
    return import('./commands/submit-main.js');
  }
}

/** The exit code, or what went wrong and the UserError class of the code that ran. */
async function run(words: string[]): Promise<{ code: number } | { err: unknown; UserError: SubmitMain['UserError'] }> {
  const plain: PlainSubmit | undefined = plainSubmit(words);
  if (plain) {
    const main = await submitMain();
    return main.runPlainSubmit(plain).then(
      (code) => ({ code }),
      (err: unknown) => ({ err, UserError: main.UserError }),
    );
  }
  try {
    if (words.length === 1 && (words[0] === '-V' || words[0] === '--version')) {
      const { createRequire } = await import('node:module');
      const { version } = createRequire(import.meta.url)('../package.json') as { version: string };
      process.stdout.write(`qm ${version}\n`);
      return { code: 0 };
    }
    return { code: await (await import('./commands/program.js')).runProgram(process.argv) };
  } catch (err) {
    return { err, UserError: (await import('./commands/context.js')).UserError };
  }
}

async function main(): Promise<void> {
  const outcome = await run(process.argv.slice(2));
  if ('code' in outcome) process.exit(outcome.code);
  const { err, UserError } = outcome;
  if (err instanceof UserError) {
    process.stderr.write(`qm: ${err.message}\n`);
    process.exit(err.code);
  }
  process.stderr.write(`qm: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}

void main();
