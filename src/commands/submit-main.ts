/**
 * A plain `qm submit` (cli.ts, submit-argv.ts), with the UserError class its
 * errors are of. The entry point of the submit bundle (dist/submit/, made by
 * scripts/bundle-submit.mjs): as one file (and the chunks of what it loads
 * lazily) it loads in a fraction of the time its thirty-odd modules took one
 * by one; they are the same modules.
 */
import { UserError, loadContext } from './context.js';
import { submit } from './submit.js';
import type { PlainSubmit } from './submit-argv.js';

export { UserError };

/** The exit code (a bad config too is a rejection, not a throw). */
export async function runPlainSubmit(plain: PlainSubmit): Promise<number> {
  return submit(loadContext({ config: plain.config }), plain.source, { ...plain.opts, args: plain.args });
}
