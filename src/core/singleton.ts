/**
 * `--dependency=singleton` (SPEC §9): a job waits until every earlier job of
 * its name has ended. In QM a name is unique among queued and running jobs
 * (a second `run` is queued as `run-2`), so the family of `run-2` is `run`
 * and `run-N`; when it is queued, singleton becomes `afterany` on those of
 * the family queued (in Redis) or running then. Jobs queued later wait for
 * it in turn; a queue rebuilt after a wiped Redis is queued oldest first, so
 * no two wait for each other.
 */
import type { JobStore } from './jobstore.js';
import { familyOf, parseDependency } from './dependencies.js';
import type { QueuedJob } from './status.js';

export async function resolveSingleton(store: JobStore, job: QueuedJob): Promise<void> {
  const expr = job.keys.dependency?.trim();
  if (!expr || !parseDependency(expr).singleton) return;
  const family = familyOf(job.name);
  const member = (name: string) => name !== job.name && familyOf(name) === family;
  const [queued, running] = await Promise.all([store.queuedNames(), store.running()]);
  const live = await store.liveQueued([...queued.keys()].filter(member));
  const earlier = [...new Set([...live, ...running.map((r) => r.name).filter(member)])];
  const rest = expr.split(/([,?])/).filter((part) => part.trim() !== 'singleton');
  const cleaned = rest.join('').replace(/^[,?]+|[,?]+$/g, '').replace(/([,?])[,?]+/g, '$1');
  const separator = cleaned.includes('?') ? '?' : ',';
  const waits = earlier.length > 0 ? `afterany:${earlier.join(':')}` : '';
  job.keys = { ...job.keys, dependency: [cleaned, waits].filter(Boolean).join(separator) };
}
