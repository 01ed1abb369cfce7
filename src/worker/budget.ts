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
  private waiters: Array<() => void> = [];

  /**
   * @param max MaxNbProcessors
   * @param blocking launch_type = blocking
   * @param cpus CPU ids to pin jobs to, or empty for no pinning
   */
  constructor(
    readonly max: number,
    readonly blocking: boolean,
    cpus: number[],
  ) {
    this.freeCpus = [...cpus];
  }

  get inUse(): number {
    return this.used;
  }

  get running(): number {
    return this.jobs;
  }

  /** nb_proc clamped to what this worker could ever give. */
  clamp(nbProc: number): number {
    return Math.min(nbProc, this.max);
  }

  fits(nbProc: number): boolean {
    if (this.blocking) return this.jobs === 0;
    return this.used + nbProc <= this.max;
  }

  /** Has room for at least one more processor. */
  get hasRoom(): boolean {
    return this.fits(1);
  }

  /** Reserves nb_proc processors; returns the CPUs to pin to (empty without pinning). */
  take(nbProc: number): number[] {
    if (!this.fits(nbProc)) throw new Error(`budget exceeded: ${this.used}+${nbProc} > ${this.max}`);
    this.used += nbProc;
    this.jobs += 1;
    return this.freeCpus.splice(0, Math.min(nbProc, this.freeCpus.length)).sort((a, b) => a - b);
  }

  release(nbProc: number, cpus: number[]): void {
    this.used -= nbProc;
    this.jobs -= 1;
    this.freeCpus.push(...cpus);
    this.wake();
  }

  /** Wakes whoever waits in changed() (e.g. at shutdown). */
  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves at the next release (callers re-check what they need). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
