/**
 * The descriptor keys QM reads (SPEC §2, §8, §9). Any other key is kept and
 * shown, and its job's process.log says at the top that QM does not use it,
 * with the key it may stand for (`time` for `time_limit`): a mistyped key is
 * otherwise a limit silently not applied.
 */
import type { RawKeys } from './descriptor-resources.js';

/** Thread counts a job is given unless its descriptor sets them (lower case: the key that sets each). */
export const THREAD_VARIABLES = ['OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMEXPR_NUM_THREADS', 'SLURM_CPUS_PER_TASK'];

const KNOWN_KEYS: readonly string[] = [
  'script', 'nb_proc', 'e_mail', 'e-mail', 'info', 'priority', 'size', 'time_limit', 'after',
  // resources (§8)
  'ntasks', 'cpus_per_task', 'nb_gpu', 'gpus_per_task', 'memory', 'mem_per_cpu', 'mem_per_gpu',
  // Slurm scripts (§9), and what qm submit writes into a job's descriptor
  'mail_type', 'hold', 'begin', 'array', 'args', 'dependency', 'output', 'error', 'submit_dir', 'submit_host',
  ...THREAD_VARIABLES.map((name) => name.toLowerCase()),
];
const KNOWN = new Set(KNOWN_KEYS);

/** One notice for each key QM does not read. */
export function unknownKeyNotices(keys: RawKeys): string[] {
  return [...keys]
    .filter(([key]) => !KNOWN.has(key))
    .map(([key, raw]) => {
      const meant = likelyMeant(key);
      return `unknown key ${raw.label}: kept and shown, not used by QM${meant ? ` (did you mean ${meant}?)` : ''} (${raw.where})`;
    });
}

/**
 * The known key `key` most likely stands for: one edit away (two for a key of
 * five letters or more), else one it begins (`time` for `time_limit`).
 */
function likelyMeant(key: string): string | undefined {
  const edits = key.length >= 5 ? 2 : 1;
  let best: string | undefined;
  let bestScore = Infinity;
  for (const known of KNOWN_KEYS) {
    const distance = editDistance(key, known);
    const score = distance === 1 ? 1 : key.length >= 3 && known.startsWith(key) ? 1.5 : distance <= edits ? distance : Infinity;
    if (score < bestScore) [best, bestScore] = [known, score];
  }
  return best;
}

/** Levenshtein distance; Infinity at once when the lengths differ by more than 2 (nothing closer matters here). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return Infinity;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}
