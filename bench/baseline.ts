/**
 * Section 1: the machine's limit. How many `/bin/sh -c true` a small, fresh
 * Node process spawns and reaps per second with `parallel` of them at once
 * (the budget): QM's cost per job is at least one such spawn. The spawns run
 * in a Node of their own that loads nothing else, as QM's job launcher is:
 * measured inside the bench (which has loaded ioredis and the rest) spawning
 * is slower, and the ratio to it would flatter QM.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface BaselineResult {
  spawns: number;
  parallel: number;
  seconds: number;
  perSecond: number;
}

/** The spawning Node's program: warm-up, then `count` spawns over `parallel` lanes; prints the seconds taken. */
const SPAWNER = `
const { spawn } = require('node:child_process');
const [count, parallel] = process.argv.slice(1).map(Number);
const spawnTrue = () => new Promise((resolve, reject) => {
  const child = spawn('/bin/sh', ['-c', 'true'], { stdio: 'ignore' });
  child.once('error', reject);
  child.once('exit', resolve);
});
async function spawnMany(n) {
  let started = 0;
  const lane = async () => { while (started < n) { started += 1; await spawnTrue(); } };
  await Promise.all(Array.from({ length: parallel }, lane));
}
(async () => {
  await spawnMany(Math.min(count, 20));
  const t0 = process.hrtime.bigint();
  await spawnMany(count);
  process.stdout.write(String(Number(process.hrtime.bigint() - t0) / 1e9));
})();
`;

export async function bareSpawnRate(count: number, parallel: number): Promise<BaselineResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', SPAWNER, String(count), String(parallel)]);
  const seconds = Number(stdout);
  return { spawns: count, parallel, seconds: round3(seconds), perSecond: Math.round(count / seconds) };
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
