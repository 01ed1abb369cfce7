/**
 * `qm cancel NAME...` (SPEC §6), like `scancel`:
 * 1. a queued job is moved to QM_dJobs marked cancelled (and mailed, as any
 *    finished job);
 * 2. a running job is killed by the worker running it, wherever it is
 *    (SIGTERM to its group, SIGKILL after kill_grace); the command waits for
 *    its record and says how it ended;
 * 3. an unknown or finished name, or another user's job (root: any), is an
 *    error line; the others still go on.
 */
import os from 'node:os';
import path from 'node:path';
import type { Settings } from '../core/settings-types.js';
import { processActor } from '../core/ownership.js';
import { describeOutcome, type DoneRecord } from '../core/status.js';
import { withClient, type Client } from './client.js';

/** Beyond kill_grace: time for the worker to hear the request and record the end. */
const RECORD_MARGIN_MS = 10_000;
const POLL_MS = 100;

/** Returns the exit code: 1 if any name could not be cancelled. */
export async function cancel(settings: Settings, names: string[]): Promise<number> {
  const by = `${os.userInfo().username} (qm cancel)`;
  let failed = 0;
  await withClient(settings, async (client) => {
    for (const name of names) {
      if (!(await cancelOne(client, name, by))) failed += 1;
    }
  });
  return failed > 0 ? 1 : 0;
}

async function cancelOne(client: Client, name: string, by: string): Promise<boolean> {
  const { store, layout, settings } = client;
  const result = await client.operations.cancel(name, processActor(), by);
  switch (result.kind) {
    case 'refused':
      process.stderr.write(`qm: ${result.message}\n`);
      return false;
    case 'not-found':
      process.stderr.write(`qm: ${name}: no such job (not queued, running or finished)\n`);
      return false;
    case 'already-done':
      process.stderr.write(`qm: ${name}: already finished (${describeOutcome(result.record.outcome)}), nothing to cancel\n`);
      return false;
    case 'cancelled':
      process.stdout.write(`${name}: cancelled before it started → ${path.relative(layout.root, result.folder)}\n`);
      return true;
    case 'array': {
      process.stdout.write(`${name}: ${result.cancelled} queued task(s) cancelled, ${result.killed.length} running task(s) to stop\n`);
      let ok = true;
      const deadline = Date.now() + settings.server.killGrace * 1000 + RECORD_MARGIN_MS;
      for (const task of result.killed) {
        let record: DoneRecord | undefined;
        while (!record && Date.now() < deadline) {
          record = (await store.records([task.id]))[0];
          if (!record) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
        if (record) process.stdout.write(`${task.name}: ${describeOutcome(record.outcome)} → ${record.folder}\n`);
        else ok = false;
      }
      return ok;
    }
    case 'kill-requested': {
      const deadline = Date.now() + settings.server.killGrace * 1000 + RECORD_MARGIN_MS;
      let record: DoneRecord | undefined;
      while (!record && Date.now() < deadline) {
        record = (await store.records([result.id]))[0];
        if (!record) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      if (!record) {
        process.stderr.write(`qm: ${name}: kill requested, but ${result.worker} on ${result.host} has not ended it yet\n`);
        return false;
      }
      process.stdout.write(`${name}: ${describeOutcome(record.outcome)} → ${record.folder}\n`);
      return true;
    }
  }
}
