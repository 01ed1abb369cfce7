/**
 * Issue 4 point 1: the classic page stays fast with 10,000 done jobs, read
 * from their records (a page of the zset), never by scanning folders. The
 * response times are written to test-artifacts/monitor-timing.json (not
 * asserted: the machine is shared).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestRedis } from '../helpers/redis.js';
import { JobStore } from '../../src/core/jobstore.js';
import { openQueue } from '../../src/core/redis.js';
import type { DoneRecord } from '../../src/core/status.js';
import { get, startMonitorQm, type MonitorQm } from './harness.js';

const RECORDS = 10_000;
const SAMPLES = 100;

async function seed(redis: TestRedis): Promise<void> {
  const client = redis.client();
  const store = new JobStore(client, openQueue(client), RECORDS);
  const now = Date.now();
  const record = (i: number): DoneRecord => ({
    id: `rec-${i}`, name: `job_${i}`, info: `run ${i} of the sweep`, email: `user${i % 17}@example.org`, nbProc: 1 + (i % 8),
    priority: 0, worker: `node${i % 4}:100`, host: `node${i % 4}`, enqueuedAt: now - i * 60_000 - 5000, startedAt: now - i * 60_000 - 4000,
    endedAt: now - i * 60_000, elapsed: 4 + (i % 100), cpu: (4 + (i % 100)) * 0.9, folder: `QM_dJobs/2026-01-01T00:00:00-job_${i}`,
    outcome: i % 10 === 0 ? { kind: 'failed', code: 1 } : { kind: 'success', code: 0 },
  });
  for (let i = 0; i < RECORDS; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, RECORDS - i) }, (_, k) => store.recordEnd(record(i + k))));
  }
  await store.close();
  client.disconnect();
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timeRoute(port: number, route: string): Promise<{ p50: number; p99: number; max: number }> {
  await get(port, route); // warm-up
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const start = process.hrtime.bigint();
    const res = await get(port, route);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    expect(res.status).toBe(200);
  }
  times.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return { p50: round(percentile(times, 50)), p99: round(percentile(times, 99)), max: round(times.at(-1)!) };
}

describe('the monitor with 10,000 done jobs', () => {
  let redis: TestRedis;
  let m: MonitorQm;

  beforeAll(async () => {
    redis = await TestRedis.start();
    await seed(redis);
    m = await startMonitorQm(redis, { command: 'monitor' });
  });

  afterAll(async () => {
    await m.stop();
    await redis.stop();
  });

  it('pages them from the records and answers quickly', async () => {
    const first = (await get(m.port, '/')).text;
    expect(first).toContain('Done <span class="count">10000</span>');
    expect(first).toContain('page 1 of 200');
    expect(first).toContain('job_0<');
    const last = (await get(m.port, '/?page=200')).text;
    expect(last).toContain('job_9999<');
    const api = JSON.parse((await get(m.port, '/api/jobs?page=3')).text) as { done: { records: { name: string }[]; total: number } };
    expect(api.done.total).toBe(RECORDS);
    expect(api.done.records.map((r) => r.name).slice(0, 2)).toEqual(['job_100', 'job_101']);

    const timing = {
      records: RECORDS,
      samples: SAMPLES,
      '/': await timeRoute(m.port, '/'),
      '/?page=200': await timeRoute(m.port, '/?page=200'),
      '/api/jobs': await timeRoute(m.port, '/api/jobs'),
      '/stats?days=30 (all 10,000 records in the period)': await timeRoute(m.port, '/stats?days=30'),
    };
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync(path.join('test-artifacts', 'monitor-timing.json'), JSON.stringify(timing, null, 2) + '\n');
    console.log(`monitor response times in ms with ${RECORDS} done records:\n${JSON.stringify(timing, null, 2)}`);
  });
});
