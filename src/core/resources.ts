/**
 * The words of SPEC §8's resources, read the same way wherever they are
 * written (descriptors, `#SBATCH` lines, `qm submit`, QMserv.cfg):
 * 1. memory sizes: `500M`, `16G`, `1.5T`, a bare number of megabytes (Slurm's
 *    unit); `0` means all of a worker's memory;
 * 2. GPU counts with Slurm's optional type (`a100:2`, `gpu:tesla:2` in --gres);
 * 3. a worker's GPU ids (`0-3`, `0,2`, `none`);
 * 4. what a job asks, in one line (`2 CPUs, 1 GPU, 500 MB`).
 * 5. why a queued job waits for them (read-model.ts reasons()).
 */
import type { Heartbeat } from './heartbeat.js';
import type { QueuedJob } from './status.js';

const UNIT_MB: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

export const MEMORY_FORM = 'a size like 500M or 16G (K, M, G, T; a bare number is megabytes; 0 = all of the worker\'s)';

/** Megabytes (rounded up) in `text`, or undefined when it is not a size. */
export function parseMemoryMb(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt])?(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const mb = Math.ceil(Number(m[1]) * UNIT_MB[(m[2] ?? 'm').toLowerCase()]!);
  return Number.isSafeInteger(mb) ? mb : undefined;
}

/** `N` or `TYPE:N` (sbatch --gpus, -G, --gpus-per-node, --gpus-per-task): the count and the type, if any. */
export function parseGpuCount(text: string): { count: number; type?: string } | undefined {
  const m = /^(?:([^:\s]+):)?(\d+)$/.exec(text.trim());
  if (!m) return undefined;
  return { count: Number(m[2]), type: m[1] };
}

/**
 * sbatch --gres: `gpu`, `gpu:2`, `gpu:TYPE:2`, several resources separated
 * by commas; the GPUs asked and the resources that are not GPUs.
 */
export function parseGres(text: string): { count: number; type?: string; others: string[] } | undefined {
  let count = 0;
  let type: string | undefined;
  const others: string[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const parts = item.split(':');
    if (parts[0] !== 'gpu') {
      others.push(item);
      continue;
    }
    const last = parts.length > 1 ? parts.at(-1)! : '1';
    // `gpu:TYPE` alone asks one GPU of that type
    const n = /^\d+$/.test(last) ? Number(last) : parts.length === 2 ? 1 : NaN;
    if (!Number.isSafeInteger(n) || parts.length > 3) return undefined;
    if (parts.length === 3 || (parts.length === 2 && !/^\d+$/.test(last))) type = parts[1];
    count += n;
  }
  return { count, type, others };
}

/** A worker's GPU ids: `0-3`, `0,2`, `none` or empty for none. Throws on anything else. */
export function parseGpuIds(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'none') return [];
  const ids: string[] = [];
  for (const item of trimmed.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item);
    const first = m ? Number(m[1]) : NaN;
    const last = m?.[2] !== undefined ? Number(m[2]) : first;
    if (!m || last < first || last > 1023) throw new Error(`bad GPU list ${JSON.stringify(text)}: expected ids like 0-3 or 0,2 (or none)`);
    for (let id = first; id <= last; id++) if (!ids.includes(String(id))) ids.push(String(id));
  }
  return ids;
}

/** `512 MB`, `16 GB` (whole gigabytes only when exact). */
export function formatMb(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GB` : `${mb} MB`;
}

/** What a job asks besides processors, for logs and lists: `2 GPUs, 500 MB`; empty when nothing. */
export function describeRequest(nbGpu: number | undefined, memoryMb: number | undefined): string {
  const parts: string[] = [];
  if (nbGpu) parts.push(`${nbGpu} GPU${nbGpu > 1 ? 's' : ''}`);
  if (memoryMb !== undefined) parts.push(memoryMb === 0 ? 'all memory' : formatMb(memoryMb));
  return parts.join(', ');
}

type Asked = Pick<QueuedJob, 'nbGpu' | 'memoryMb'>;
type Pools = Pick<Heartbeat, 'gpus' | 'gpusInUse' | 'memoryMb' | 'memoryInUseMb'>;

/** A worker's memory pool; a heartbeat without one (an older QM) bounds nothing. */
const memoryOf = (w: Pools) => w.memoryMb ?? Number.POSITIVE_INFINITY;

/**
 * Why no live worker could ever hold a job's GPUs and memory (the pick
 * passes it over): `needs 2 GPUs; the largest worker has 1`; undefined when one could.
 */
export function neverHeld(job: Asked, workers: Pools[]): string | undefined {
  const gpus = job.nbGpu ?? 0;
  const mem = job.memoryMb ?? 0;
  if (workers.length === 0 || workers.some((w) => (w.gpus?.length ?? 0) >= gpus && memoryOf(w) >= mem)) return undefined;
  const mostGpus = Math.max(...workers.map((w) => w.gpus?.length ?? 0));
  const mostMemory = Math.max(...workers.map(memoryOf));
  if (gpus > mostGpus) return `needs ${gpus} GPU${gpus > 1 ? 's' : ''}; the largest worker has ${mostGpus}`;
  if (mem > mostMemory) return `needs ${formatMb(mem)} of memory; the largest worker has ${formatMb(mostMemory)}`;
  return `needs ${gpus} GPU${gpus > 1 ? 's' : ''} and ${formatMb(mem)} of memory; no worker has both`;
}

/** What the freest worker lacks now for the job's GPUs or memory (`needs 2 GPUs, 1 free`); undefined when one has room. */
export function shortOfRoom(job: Asked, workers: Pools[]): string | undefined {
  const gpus = job.nbGpu ?? 0;
  const mem = job.memoryMb;
  const freeGpus = Math.max(0, ...workers.map((w) => (w.gpus?.length ?? 0) - (w.gpusInUse?.length ?? 0)));
  const freeMemory = Math.max(0, ...workers.map((w) => memoryOf(w) - (w.memoryInUseMb ?? 0)));
  if (gpus > freeGpus) return `needs ${gpus} GPU${gpus > 1 ? 's' : ''}, ${freeGpus} free`;
  // 0: all of a worker's memory, free only on an idle worker
  const wanted = mem === 0 ? Math.min(...workers.map(memoryOf)) : mem;
  if (wanted !== undefined && wanted > freeMemory) return `needs ${mem === 0 ? 'all the memory of a worker' : formatMb(wanted)}, ${formatMb(freeMemory)} free`;
  return undefined;
}
