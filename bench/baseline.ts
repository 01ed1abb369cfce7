/**
 * Section 1: the machine's limit. How many `/bin/sh -c true` Node can spawn
 * and reap per second with `parallel` of them at once (the budget): QM's cost
 * per job is at least one such spawn.
 */
import { spawn } from 'node:child_process';
import { nowMs } from './wait.js';

export interface BaselineResult {
  spawns: number;
  parallel: number;
  seconds: number;
  perSecond: number;
}

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'true'], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve());
  });
}

async function spawnMany(count: number, parallel: number): Promise<void> {
  let started = 0;
  const lane = async () => {
    while (started < count) {
      started += 1;
      await spawnTrue();
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}

export async function bareSpawnRate(count: number, parallel: number): Promise<BaselineResult> {
  await spawnMany(Math.min(count, 20), parallel); // warm up the spawn path
  const t0 = nowMs();
  await spawnMany(count, parallel);
  const seconds = (nowMs() - t0) / 1000;
  return { spawns: count, parallel, seconds: round3(seconds), perSecond: Math.round(count / seconds) };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
