/**
 * `qm show NAME [--json]` (SPEC §10), like `scontrol show job`: everything
 * QM knows of the job, one `Key=Value` a line — its state and why it waits,
 * its owner, what it asked, where and when it ran, how it ended, its folder.
 */
import type { Settings } from '../core/settings-types.js';
import type { JobView } from '../core/read-model.js';
import { ownerOfView } from '../core/ownership.js';
import { describeOutcome, exitCodeOf } from '../core/status.js';
import { withClient } from './client.js';
import { UserError } from './context.js';
import path from 'node:path';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export async function show(settings: Settings, name: string, opts: { json?: boolean }): Promise<void> {
  const fields = await withClient(settings, async (client) => {
    const view = await client.model.current(name);
    const array = await client.model.arrayNamed(name, view);
    if (array) {
      const template = path.join(client.layout.queued, name);
      return {
        name, id: array.id, state: 'array', tasks: array.spec, count: array.count, queued: array.queued, running: array.running,
        done: array.done, failed: array.failed, folder: view ? path.relative(client.layout.root, template) : null, paused: await client.store.isPaused(),
      };
    }
    if (!view) throw new UserError(`${name}: no such job (not queued, running or finished)`);
    const folder = client.model.folderOf(view);
    const owner = await ownerOfView(client.model, view);
    return {
      name: view.name, id: view.id ?? null, ...stateFields(view), user: owner?.user ?? null, uid: owner?.uid ?? null,
      folder: folder ? path.relative(client.layout.root, folder) : null, paused: await client.store.isPaused(),
    };
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ version: 1, job: fields }, null, 2)}\n`);
    return;
  }
  const line = Object.entries(fields)
    .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k[0]!.toUpperCase()}${k.slice(1)}=${Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  process.stdout.write(`${line.join('\n')}\n`);
}

function stateFields(view: JobView): Record<string, unknown> {
  if (view.state === 'queued') {
    const j = view.job;
    return {
      state: view.phase, reason: view.reason, position: view.position ?? null, priority: j?.priority, nbProc: j?.nbProc, nbGpu: j?.nbGpu,
      memoryMb: j?.memoryMb, timeLimit: j?.timeLimit, after: j?.after, held: j?.held ?? false, beginAt: iso(j?.beginAt),
      enqueuedAt: iso(j?.enqueuedAt), email: j?.email, info: j?.info, script: j?.script, submitDir: j?.submitDir,
    };
  }
  if (view.state === 'running') {
    const r = view.info;
    return {
      state: 'running', worker: r.worker, host: r.host, nbProc: r.nbProc, cpus: r.cpus, gpus: r.gpus, memoryMb: r.memoryMb,
      enqueuedAt: iso(r.enqueuedAt), startedAt: iso(r.startedAt), elapsedSeconds: Math.round((Date.now() - r.startedAt) / 1000),
      progress: view.progress ? `${view.progress.done}/${view.progress.total}` : undefined, email: r.email, info: r.info,
    };
  }
  const d = view.record;
  return {
    state: 'done', result: describeOutcome(d.outcome), exitCode: exitCodeOf(d.outcome), outcome: d.outcome, worker: d.worker, host: d.host,
    nbProc: d.nbProc, nbGpu: d.nbGpu, gpus: d.gpus, memoryMb: d.memoryMb, priority: d.priority, enqueuedAt: iso(d.enqueuedAt),
    startedAt: iso(d.startedAt), endedAt: iso(d.endedAt), elapsedSeconds: d.elapsed, cpuSeconds: d.cpu, email: d.email, info: d.info,
  };
}
