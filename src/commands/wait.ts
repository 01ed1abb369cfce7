/**
 * `qm wait NAME...` (SPEC §10): blocks until every job named has ended (a
 * queued or running one: its next record; a finished one: its latest; an
 * array: every task's), prints how each ended, and exits with the highest
 * of their exit codes.
 */
import type { Settings } from '../core/settings-types.js';
import { describeOutcome, exitCodeOf, type DoneRecord } from '../core/status.js';
import { withClient, type Client } from './client.js';
import { UserError } from './context.js';
import { waitForArray } from './submit-wait.js';

const POLL_MS = 200;
/** Polls in a row that find no trace of the job before it is said to be gone (1 s). */
const GONE_AFTER_MISSES = 5;

export async function waitFor(settings: Settings, names: string[]): Promise<number> {
  return withClient(settings, async (client) => {
    const waits: Array<() => Promise<number>> = [];
    for (const name of names) {
      const view = await client.model.current(name);
      const info = await client.model.arrayInfoNamed(name, view);
      if (info) {
        waits.push(() => waitForArray(client, name, info.id, info.indices));
        continue;
      }
      if (!view) throw new UserError(`${name}: no such job (not queued, running or finished)`);
      // a queued job's id is its record's; a folder still arriving gets one once queued
      const id = view.id;
      waits.push(async () => {
        const record = await ended(client, name, id);
        process.stdout.write(`${name} ended: ${describeOutcome(record.outcome)} → ${record.folder}\n`);
        return exitCodeOf(record.outcome);
      });
    }
    let worst = 0;
    for (const wait of waits) worst = Math.max(worst, await wait());
    return worst;
  });
}

async function ended(client: Client, name: string, id: string | undefined): Promise<DoneRecord> {
  let misses = 0;
  for (;;) {
    const current = await client.model.current(name);
    const known = id ?? current?.id;
    const record = known ? (await client.store.records([known]))[0] : undefined;
    if (record) return record;
    // deleted from QM_qJobs (the monitor's delete), or its record forgotten: nothing will end.
    // Seen twice a while apart: a folder between two states (claimed, ending) is missing for milliseconds only
    if (!current) misses += 1;
    else misses = 0;
    if (misses >= GONE_AFTER_MISSES) throw new UserError(`${name} left QM without a record (deleted?)`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
