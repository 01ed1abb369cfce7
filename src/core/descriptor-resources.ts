/**
 * What a job asks of a worker's pools (SPEC §8), from its descriptor keys:
 * 1. the `#SBATCH` resource options turned into keys (`--gres`, `--gpus`,
 *    `-G`, `--gpus-per-node`, `--gpus-per-task`, `--mem`, `--mem-per-cpu`,
 *    `--mem-per-gpu`); a GPU type is not honoured and says so;
 * 2. the keys turned into processors, tasks, GPUs and memory:
 *    nb_proc = ntasks × cpus_per_task unless nb_proc is given,
 *    nb_gpu = gpus_per_task × ntasks unless nb_gpu is given,
 *    memory = mem_per_cpu × nb_proc (or mem_per_gpu × nb_gpu) unless memory is given.
 */
import { DescriptorError } from './descriptor-types.js';
import { MEMORY_FORM, parseGpuCount, parseGres, parseMemoryMb } from './resources.js';

/** A key as written: where (`file` or `file line N`), under which name (`nb_proc`, `#SBATCH -c`). */
export type RawKey = { value: string; where: string; label: string };
export type RawKeys = Map<string, RawKey>;

type Given = (...names: string[]) => RawKey | undefined;
type Check = <T>(raw: RawKey | undefined, parse: (text: string) => T | undefined, expected: string) => T | undefined;

export const MAX_NB_PROC = 100_000;
const MAX_NB_GPU = 1024;

const MEMORY_KEYS: Record<string, string> = { '--mem': 'memory', '--mem-per-cpu': 'mem_per_cpu', '--mem-per-gpu': 'mem_per_gpu' };

/** Sets the key of one `#SBATCH` resource option (its value checked where it can be). */
export function sbatchResource(option: string, raw: RawKey, keys: RawKeys, warnings: string[]): void {
  const memoryKey = MEMORY_KEYS[option];
  if (memoryKey) {
    keys.set(memoryKey, raw);
    return;
  }
  const typeIgnored = (type: string | undefined) =>
    type && warnings.push(`${raw.where}: GPU type ${type} of ${raw.label} ignored: any of the worker's GPUs is given`);
  if (option === '--gres') {
    const gres = parseGres(raw.value);
    if (!gres) throw new DescriptorError(`${raw.where}: ${raw.label}=${raw.value}: expected gpu[:TYPE]:N`);
    typeIgnored(gres.type);
    for (const other of gres.others) warnings.push(`${raw.where}: #SBATCH --gres ${other} ignored (only gpu is supported)`);
    if (gres.others.length === 0 || gres.count > 0) keys.set('nb_gpu', { ...raw, value: String(gres.count) });
    return;
  }
  const gpus = parseGpuCount(raw.value);
  if (!gpus) throw new DescriptorError(`${raw.where}: ${raw.label}=${raw.value}: expected a number of GPUs, or TYPE:N`);
  typeIgnored(gpus.type);
  keys.set(option === '--gpus-per-task' ? 'gpus_per_task' : 'nb_gpu', { ...raw, value: String(gpus.count) });
}

const integerIn = (min: number, max: number) => (text: string) => {
  const value = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  return value >= min && value <= max ? value : undefined;
};

/** Processors, tasks, GPUs and memory asked; throws a DescriptorError naming the key and the file. */
export function resourcesOf(given: Given, check: Check): { nbProc: number; ntasks: number | undefined; nbGpu: number; memoryMb: number | undefined } {
  const count = (key: string, min: number, max: number) => check(given(key), integerIn(min, max), `an integer >= ${min} (at most ${max})`);
  const ntasks = count('ntasks', 1, MAX_NB_PROC);
  const cpusPerTask = count('cpus_per_task', 1, MAX_NB_PROC);
  const nbProc = count('nb_proc', 1, MAX_NB_PROC) ?? Math.min(MAX_NB_PROC, (ntasks ?? 1) * (cpusPerTask ?? 1));
  const gpusPerTask = count('gpus_per_task', 0, MAX_NB_GPU);
  const nbGpu = count('nb_gpu', 0, MAX_NB_GPU) ?? (gpusPerTask ?? 0) * (ntasks ?? 1);
  const size = (key: string) => check(given(key), parseMemoryMb, MEMORY_FORM);
  const perCpu = size('mem_per_cpu');
  const perGpu = size('mem_per_gpu');
  const memoryMb = size('memory') ?? (perCpu !== undefined ? perCpu * nbProc : perGpu !== undefined && nbGpu > 0 ? perGpu * nbGpu : undefined);
  return { nbProc, ntasks, nbGpu, memoryMb };
}
