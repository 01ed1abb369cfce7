/** The one-line log format every role writes to stderr. */
import { describe, expect, it } from 'vitest';
import { formatLine } from '../../src/core/log.js';

describe('formatLine', () => {
  const time = new Date(2026, 10, 26, 3, 51, 26, 71).getTime();

  it('puts the local time, the level, the role and the job name first', () => {
    expect(formatLine({ time, level: 30, role: 'ingest', job: 'j0001', msg: 'queued (1 processor)', pid: 1, hostname: 'h' })).toBe(
      '[2026-11-26 03:51:26.071] INFO: [ingest] j0001: queued (1 processor)\n',
    );
  });

  it('leaves the job out when there is none and shows any other field as JSON', () => {
    expect(formatLine({ time, level: 50, role: 'worker', msg: 'redis unreachable', attempt: 3 })).toBe(
      '[2026-11-26 03:51:26.071] ERROR: [worker] redis unreachable {"attempt":3}\n',
    );
  });
});
