/**
 * The ingest lease (SPEC §11): which `qm ingest` is the active one. Its
 * holder writes this to Redis with a time to live and renews it; the others
 * stand by and take it when it is given back or lapses.
 * 1. What a lease says (who holds it, since when) and how it is read back.
 * 2. Its timing: the lease lapses LEASE_TTL_MS after the last renewal, so a
 *    killed ingest is replaced within LEASE_TTL_MS + STANDBY_TRY_MS.
 */

export const LEASE_TTL_MS = 6_000;
export const LEASE_RENEW_MS = 1_500;
export const STANDBY_TRY_MS = 1_000;

export interface IngestLease {
  host: string;
  pid: number;
  /** boot id and pid namespace: where `pid` means something (liveness.ts pidSpace) */
  pidSpace: string;
  /** this run of that ingest */
  instance: string;
  /** when it became active, ms */
  since: number;
}

export function parseLease(raw: string): IngestLease | undefined {
  try {
    const lease = JSON.parse(raw) as Partial<IngestLease>;
    return typeof lease.instance === 'string' && typeof lease.host === 'string' ? (lease as IngestLease) : undefined;
  } catch {
    return undefined;
  }
}

/** `host pid N`: the ingest as a log line names it. */
export function describeLease(lease: IngestLease): string {
  return `${lease.host} pid ${lease.pid}`;
}
