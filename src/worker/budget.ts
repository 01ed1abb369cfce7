/**
 * A worker's pools (SPEC §3, §8): processors (MaxNbProcessors), GPU ids and
 * memory. The jobs running on a worker never hold more than its pools;
 * `blocking` allows one job at a time.
 * 1. Processors: with pinning, it also hands out which CPUs each job gets,
 *    so two jobs running at once never share one.
 * 2. GPUs: each job gets ids of its own (CUDA_VISIBLE_DEVICES).
 * 3. Memory: MB reserved; a job asking 0 (Slurm's --mem=0) takes all of it.
 */
import { formatMb } from '../core/resources.js';

export interface Grant {
  nbProc: number;
  cpus: number[];
  gpus: string[];
  /** MB reserved (0: none) */
  memoryMb: number;
}

export class Budget {
  private used = 0;
  private jobs = 0;
  private memoryUsed = 0;
  private readonly freeCpus: number[];
  private readonly freeGpus: string[];

  /**
   * @param max MaxNbProcessors
   * @param blocking launch_type = blocking
   * @param cpus CPU ids to pin jobs to (at least `max` of them), or empty for no pinning
   * @param gpus GPU ids to hand out
   * @param memoryMb the memory pool, MB
   */
  constructor(
    readonly max: number,
    readonly blocking: boolean,
    cpus: number[],
    readonly gpus: readonly string[] = [],
    readonly memoryMb = Number.MAX_SAFE_INTEGER,
  ) {
    if (cpus.length > 0 && cpus.length < max) throw new Error(`${max} processors cannot be pinned to ${cpus.length} CPUs`);
    this.freeCpus = [...cpus];
    this.freeGpus = [...gpus];
  }

  get inUse(): number {
    return this.used;
  }

  get running(): number {
    return this.jobs;
  }

  /** Processors a new job may take now: none while a blocking worker runs a job. */
  get free(): number {
    if (this.blocking) return this.jobs === 0 ? this.max : 0;
    return this.max - this.used;
  }

  get gpusInUse(): string[] {
    return this.gpus.filter((id) => !this.freeGpus.includes(id));
  }

  get freeGpuCount(): number {
    return this.blocking && this.jobs > 0 ? 0 : this.freeGpus.length;
  }

  get memoryInUseMb(): number {
    return this.memoryUsed;
  }

  get freeMemoryMb(): number {
    return this.blocking && this.jobs > 0 ? 0 : this.memoryMb - this.memoryUsed;
  }

  /** What it holds, for the worker's `ready` line: `4 processors, GPUs 0,1, 16 GB of memory`. */
  summary(): string {
    return `${this.max} processors, ${this.gpus.length ? `GPUs ${this.gpus.join(',')}` : 'no GPU'}, ${formatMb(this.memoryMb)} of memory`;
  }

  /** The MB a job asking `memoryMb` reserves here: 0 = all of the pool, undefined = none. */
  reserveOf(memoryMb: number | undefined): number {
    return memoryMb === undefined ? 0 : memoryMb === 0 ? this.memoryMb : memoryMb;
  }

  fits(nbProc: number, nbGpu = 0, memoryMb?: number): boolean {
    return nbProc <= this.free && nbGpu <= this.freeGpuCount && this.reserveOf(memoryMb) <= this.freeMemoryMb;
  }

  /** Reserves what a job asks; the CPUs to pin to (empty without pinning) and the GPU ids it gets. */
  take(nbProc: number, nbGpu = 0, memoryMb?: number): Grant {
    if (!this.fits(nbProc, nbGpu, memoryMb)) {
      throw new Error(`pools exceeded: ${nbProc} processors, ${nbGpu} GPUs, ${memoryMb ?? 0} MB asked; ${this.free}, ${this.freeGpuCount}, ${this.freeMemoryMb} free`);
    }
    const reserved = this.reserveOf(memoryMb);
    this.used += nbProc;
    this.memoryUsed += reserved;
    this.jobs += 1;
    return {
      nbProc,
      cpus: this.freeCpus.splice(0, nbProc).sort((a, b) => a - b),
      gpus: this.freeGpus.splice(0, nbGpu),
      memoryMb: reserved,
    };
  }

  release(grant: Grant): void {
    this.used -= grant.nbProc;
    this.memoryUsed -= grant.memoryMb;
    this.jobs -= 1;
    this.freeCpus.push(...grant.cpus);
    this.freeGpus.push(...grant.gpus);
    // the lowest ids first, as nvidia-smi lists them
    this.freeGpus.sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  }
}
