/** Issue 3 points 1, 3, 6 and issue 14 point 1: one worker's pools (processors, GPUs, memory) and what it hands out. */
import { describe, expect, it } from 'vitest';
import { Budget } from '../../src/worker/budget.js';

describe('Budget', () => {
  it('never lets the processors in use exceed the budget', () => {
    const b = new Budget(4, false, []);
    const three = b.take(3);
    expect(b.free).toBe(1);
    expect(b.fits(2)).toBe(false);
    expect(() => b.take(2)).toThrow(/pools exceeded/);
    b.take(1);
    expect(b.free).toBe(0);
    b.release(three);
    expect(b.free).toBe(3);
    expect(b.inUse).toBe(1);
  });

  it('blocking: one job at a time, whatever its size', () => {
    const b = new Budget(4, true, [], ['0', '1'], 1000);
    expect(b.free).toBe(4);
    const one = b.take(1);
    expect(b.free).toBe(0);
    expect(b.freeGpuCount).toBe(0);
    expect(b.freeMemoryMb).toBe(0);
    expect(b.fits(1)).toBe(false);
    b.release(one);
    expect(b.fits(4, 2, 1000)).toBe(true);
  });

  it('gives jobs running at the same time CPUs of their own, and takes them back', () => {
    const b = new Budget(4, false, [4, 5, 6, 7]);
    const first = b.take(1).cpus;
    const second = b.take(2);
    const third = b.take(1).cpus;
    expect(first).toHaveLength(1);
    expect(second.cpus).toHaveLength(2);
    expect(new Set([...first, ...second.cpus, ...third]).size).toBe(4);
    b.release(second);
    const fourth = b.take(2).cpus;
    expect(fourth.sort()).toEqual(second.cpus.sort());
  });

  it('without pinning hands out no CPUs', () => {
    expect(new Budget(8, false, []).take(3).cpus).toEqual([]);
  });

  it('refuses to pin more processors than CPUs', () => {
    expect(() => new Budget(4, false, [0, 1])).toThrow(/cannot be pinned/);
  });

  it('hands out distinct GPU ids and memory, and a job fits only when all three pools have room', () => {
    const b = new Budget(8, false, [], ['0', '1', '2', '3'], 1024);
    const a = b.take(1, 2, 600);
    expect(a.gpus).toEqual(['0', '1']);
    expect(b.fits(1, 2, 600)).toBe(false); // memory short
    expect(b.fits(1, 3, 100)).toBe(false); // GPUs short
    const c = b.take(1, 2, 400);
    expect(c.gpus).toEqual(['2', '3']);
    expect(b.gpusInUse).toEqual(['0', '1', '2', '3']);
    expect(b.memoryInUseMb).toBe(1000);
    b.release(a);
    expect(b.take(1, 1).gpus).toEqual(['0']);
    // --mem=0: all of the pool, so only on an idle pool; no request: nothing reserved
    expect(b.fits(1, 0, 0)).toBe(false);
    expect(b.fits(1, 0, undefined)).toBe(true);
    expect(new Budget(2, false, [], [], 1024).take(1, 0, 0).memoryMb).toBe(1024);
  });
});
