/**
 * A worker's heartbeat (SPEC §4, §8): what each live worker writes to Redis
 * every HEARTBEAT_MS, expiring after HEARTBEAT_TTL_S; the others judge it
 * alive by it (liveness.ts) and read its budget from it.
 */

export const HEARTBEAT_MS = 2_000;
export const HEARTBEAT_TTL_S = 10;

export interface Heartbeat {
  name: string;
  instance: string;
  host: string;
  pid: number;
  /** boot id and pid namespace: where `pid` means something (see liveness.ts pidSpace) */
  pidSpace: string;
  /** processors: the pool and what running jobs hold of it */
  budget: number;
  inUse: number;
  /** GPU ids it hands out (SPEC §8), and those running jobs hold */
  gpus?: string[];
  gpusInUse?: string[];
  /** memory pool and what running jobs reserved, MB */
  memoryMb?: number;
  memoryInUseMb?: number;
  /** ids of the jobs it runs */
  jobs: string[];
  /** when this worker process started, ms */
  startedAt: number;
  /** when this heartbeat was written, ms (the worker's clock) */
  beatAt: number;
}

export function parseHeartbeat(raw: string): Heartbeat | undefined {
  try {
    const hb = JSON.parse(raw) as Partial<Heartbeat>;
    return typeof hb.instance === 'string' ? ({ jobs: [], pidSpace: '', beatAt: 0, budget: 0, inUse: 0, ...hb } as Heartbeat) : undefined;
  } catch {
    return undefined;
  }
}
