/**
 * `qm hold NAME...`, `qm release NAME...`, `qm requeue NAME...`, `qm pause`,
 * `qm resume` (SPEC §10), like `scontrol hold/release/requeue` and `pueue
 * pause/resume`: one line per name, what was done or why not; exit 1 when
 * any name was refused.
 */
import type { Settings } from '../core/settings-types.js';
import { processActor } from '../core/ownership.js';
import type { OpResult } from '../core/operations.js';
import { withClient, type Client } from './client.js';

type PerName = (client: Client, name: string) => Promise<OpResult>;

const actor = processActor();

const PER_NAME: Record<'hold' | 'release' | 'requeue', PerName> = {
  hold: (c, name) => c.operations.hold(name, actor),
  release: (c, name) => c.operations.release(name, actor),
  requeue: (c, name) => c.operations.requeue(name, actor),
};

/** Returns the exit code. */
export async function eachName(settings: Settings, op: keyof typeof PER_NAME, names: string[]): Promise<number> {
  let failed = 0;
  await withClient(settings, async (client) => {
    for (const name of names) {
      const result = await PER_NAME[op](client, name);
      if (result.ok) process.stdout.write(`${name}: ${result.message}\n`);
      else {
        failed += 1;
        process.stderr.write(`qm: ${result.message}\n`);
      }
    }
  });
  return failed > 0 ? 1 : 0;
}

export async function pauseOrResume(settings: Settings, op: 'pause' | 'resume'): Promise<void> {
  const result = await withClient(settings, (client) => client.operations[op](actor));
  process.stdout.write(`${result.message}\n`);
}
