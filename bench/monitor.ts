/**
 * Section 5: how fast the monitor answers with many done jobs: sequential
 * GETs of a page, each read to its end, over one kept-alive connection.
 */
import { summarize, type Summary } from './stats.js';
import { nowMs, sleep } from './wait.js';

export interface PageResult {
  path: string;
  status: number;
  bytes: number;
  ms: Summary;
}

export function monitorUrl(port: number, page: string): string {
  return `http://127.0.0.1:${port}${page}`;
}

/** Does `/api/jobs` answer 200 within `timeoutMs`? */
export async function monitorAnswers(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(monitorUrl(port, '/api/jobs'), { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening (yet)
    }
    await sleep(200);
  }
  return false;
}

export async function measurePage(port: number, page: string, requests: number): Promise<PageResult> {
  const samples: number[] = [];
  let status = 0;
  let bytes = 0;
  for (let i = 0; i < requests + 1; i++) {
    const t0 = nowMs();
    const res = await fetch(monitorUrl(port, page), { signal: AbortSignal.timeout(30_000) });
    const body = await res.arrayBuffer();
    // the first request opens the connection and warms the page up: not counted
    if (i > 0) samples.push(nowMs() - t0);
    status = res.status;
    bytes = body.byteLength;
  }
  return { path: page, status, bytes, ms: summarize(samples) };
}
