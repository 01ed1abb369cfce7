/**
 * `qm stats [--json]` (SPEC §6, like the monitor's /stats): per owner (the
 * jobs' e_mail), over the done records Redis keeps (keep_done): jobs, how
 * many succeeded, total and mean elapsed time, total and mean CPU time.
 */
import type { Settings } from '../core/settings-types.js';
import { clock } from '../core/format.js';
import { withClient } from './client.js';
import { table } from './table.js';

export async function stats(settings: Settings, opts: { json?: boolean }): Promise<void> {
  const owners = await withClient(settings, ({ model }) => model.ownerStats());
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ version: 1, owners }, null, 2)}\n`);
    return;
  }
  if (owners.length === 0) {
    process.stdout.write('no finished jobs recorded\n');
    return;
  }
  const time = (s: number | null) => (s === null ? '-' : clock(s));
  process.stdout.write(
    table(
      ['OWNER', 'JOBS', 'OK', 'FAILED', 'ELAPSED', 'MEAN', 'CPU', 'MEAN CPU'],
      owners.map((o) => [o.owner ?? '(none)', String(o.jobs), String(o.succeeded), String(o.failed),
        clock(o.elapsedSeconds), time(o.meanElapsedSeconds), clock(o.cpuSeconds), time(o.meanCpuSeconds)]),
    ),
  );
}
