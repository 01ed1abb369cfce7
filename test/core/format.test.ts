/** The one human form of a duration: mails, the monitor's pages and logs. */
import { describe, expect, it } from 'vitest';
import { clock, formatSeconds } from '../../src/core/format.js';

describe('durations', () => {
  it('reads as people say them, from tenths of a second to days', () => {
    expect(formatSeconds(4.25)).toBe('4.3 s');
    expect(formatSeconds(42)).toBe('42 s');
    expect(formatSeconds(75.3)).toBe('1 min 15 s');
    expect(formatSeconds(3725)).toBe('1 h 02 min 05 s');
    expect(formatSeconds(2 * 86400 + 4 * 3600 + 600)).toBe('2 d 04 h 10 min');
  });

  it('squeue\'s TIME form', () => {
    expect(clock(5)).toBe('0:05');
    expect(clock(3725)).toBe('1:02:05');
    expect(clock(2 * 86400 + 3 * 3600 + 4 * 60 + 5)).toBe('2-03:04:05');
  });
});
