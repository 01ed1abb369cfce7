/**
 * A worker's GPU and memory pools (SPEC §8), read once at its start:
 * 1. GPUs: `gpus` / QM_GPUS when set, else the GPUs `nvidia-smi -L` lists
 *    (their indexes), none where it is absent or fails;
 * 2. memory: `memory` / QM_MEMORY when set, else the machine's physical memory.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import type { ServerSettings } from '../core/settings-types.js';

const run = promisify(execFile);

export interface Pools {
  gpus: string[];
  memoryMb: number;
}

export async function workerPools(server: ServerSettings): Promise<Pools> {
  return {
    gpus: server.gpus ?? (await listedGpus()),
    memoryMb: server.memoryMb ?? Math.floor(os.totalmem() / (1024 * 1024)),
  };
}

/** `GPU 0: NVIDIA A100 (UUID: GPU-...)` lines → ['0', ...]. */
async function listedGpus(): Promise<string[]> {
  const out = await run('nvidia-smi', ['-L'], { timeout: 10_000 }).catch(() => undefined);
  if (!out) return [];
  return [...out.stdout.matchAll(/^GPU (\d+):/gm)].map((m) => m[1]!);
}
