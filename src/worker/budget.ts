/**
 * A worker's processor budget (SPEC §3): the sum of nb_proc of its running
 * jobs never exceeds MaxNbProcessors; `blocking` allows one job at a time.
 * With pinning, it also hands out which CPUs each job gets, so two jobs
 * running at once never share one.
 */
export class Budget {
  private used = 0;
  private jobs = 0;
  private readonly freeCpus: number[];

  /**
   * @param max MaxNbProcessors
   * @param blocking launch_type = blocking
   * @param cpus CPU ids to pin jobs to (at least `max` of them), or empty for no pinning
   */
  constructor(
    readonly max: number,
    readonly blocking: boolean,
    cpus: number[],
  ) {
    if (cpus.length > 0 && cpus.length < max) throw new Error(`${max} processors cannot be pinned to ${cpus.length} CPUs`);
    this.freeCpus = [...cpus];
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

  fits(nbProc: number): boolean {
    return nbProc <= this.free;
  }

  /** Reserves nb_proc processors; returns the CPUs to pin to (empty without pinning). */
  take(nbProc: number): number[] {
    if (!this.fits(nbProc)) throw new Error(`budget exceeded: ${this.used}+${nbProc} > ${this.max}`);
    this.used += nbProc;
    this.jobs += 1;
    return this.freeCpus.splice(0, nbProc).sort((a, b) => a - b);
  }

  release(nbProc: number, cpus: number[]): void {
    this.used -= nbProc;
    this.jobs -= 1;
    this.freeCpus.push(...cpus);
  }
}
