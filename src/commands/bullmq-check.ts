/** SPEC §12 at the command line: one line and exit 2 on a BullMQ this QM was not tested with. */
import { BullmqVersionError, checkBullmqVersion } from '../core/bullmq-internals.js';
import { UserError } from './context.js';

export function refuseUntestedBullmq(): void {
  try {
    checkBullmqVersion();
  } catch (err) {
    if (err instanceof BullmqVersionError) throw new UserError(err.message, 2);
    throw err;
  }
}
