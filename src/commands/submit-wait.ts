/** `qm submit --wait`: polls the job's done record (every task's, for an array) and exits with its code. */
import { describeOutcome, exitCodeOf, type DoneRecord } from '../core/status.js';
import { taskName } from '../core/job-array.js';
import type { StoreClient } from './store-client.js';

const WAIT_POLL_MS = 100;

/** Polls the records of every task of the array; prints how many ended how, and returns the worst exit code. */
export async function waitForArray(client: StoreClient, name: string, id: string, indices: number[]): Promise<number> {
  const names = indices.map((i) => taskName(name, i));
  for (;;) {
    const records = await client.store.lastDoneOf(names);
    const ended = records.filter((r): r is DoneRecord => r?.array?.id === id);
    if (ended.length === names.length) {
      const codes = ended.map((r) => exitCodeOf(r.outcome));
      const failed = ended.filter((r) => r.outcome.kind !== 'success').length;
      const worst = Math.max(...codes);
      process.stdout.write(`${name} ended: ${names.length} task(s), ${names.length - failed} succeeded, ${failed} did not; worst code ${worst}\n`);
      return worst;
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS * 5));
  }
}

/** Polls the job's done record; prints how it ended and returns its exit code. */
export async function waitForEnd(client: StoreClient, name: string, id: string): Promise<number> {
  const { store } = client;
  const since = Date.now();
  for (;;) {
    const record: DoneRecord | undefined =
      (await store.records([id]))[0] ??
      // the queue was rebuilt meanwhile (Redis wiped): the same job under a new id
      (await store.lastDone(name).then((r) => (r && r.endedAt >= since ? r : undefined)));
    if (record) {
      process.stdout.write(`${name} ended: ${describeOutcome(record.outcome)} → ${record.folder}\n`);
      return exitCodeOf(record.outcome);
    }
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}
