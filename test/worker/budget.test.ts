/** Issue 3 points 1, 3, 6: one worker's processor accounting and the CPUs it hands out. */
import { describe, expect, it } from 'vitest';
import { Budget } from '../../src/worker/budget.js';

describe('Budget', () => {
  it('never lets the processors in use exceed the budget', () => {
    const b = new Budget(4, false, []);
    b.take(3);
    expect(b.free).toBe(1);
    expect(b.fits(2)).toBe(false);
    expect(() => b.take(2)).toThrow(/budget exceeded/);
    b.take(1);
    expect(b.free).toBe(0);
    b.release(3, []);
    expect(b.free).toBe(3);
    expect(b.inUse).toBe(1);
  });

  it('blocking: one job at a time, whatever its size', () => {
    const b = new Budget(4, true, []);
    expect(b.free).toBe(4);
    b.take(1);
    expect(b.free).toBe(0);
    expect(b.fits(1)).toBe(false);
    b.release(1, []);
    expect(b.fits(4)).toBe(true);
  });

  it('gives jobs running at the same time CPUs of their own, and takes them back', () => {
    const b = new Budget(4, false, [4, 5, 6, 7]);
    const first = b.take(1);
    const second = b.take(2);
    const third = b.take(1);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(2);
    expect(new Set([...first, ...second, ...third]).size).toBe(4);
    b.release(2, second);
    const fourth = b.take(2);
    expect(fourth.sort()).toEqual(second.sort());
  });

  it('without pinning hands out no CPUs', () => {
    expect(new Budget(8, false, []).take(3)).toEqual([]);
  });

  it('refuses to pin more processors than CPUs', () => {
    expect(() => new Budget(4, false, [0, 1])).toThrow(/cannot be pinned/);
  });
});
