/** Issue 3 point 1: a pinned job's whole process tree runs on its CPUs only. */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runScript } from '../../src/worker/runner.js';
import { allowedCpus } from '../../src/worker/cpus.js';
import { parseCpuList } from '../../src/core/settings.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'qm-runner-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// the script, a child shell, and a background grandchild each print their CPUs
const TREE = [
  "grep Cpus_allowed_list /proc/self/status | sed 's/^/script /'",
  "sh -c \"grep Cpus_allowed_list /proc/self/status | sed 's/^/child /'\"",
  "(sh -c \"grep Cpus_allowed_list /proc/self/status | sed 's/^/grandchild /'\") &",
  'wait',
].join('\n');

async function cpusSeen(cpus: number[]): Promise<Record<string, number[]>> {
  const file = path.join(dir, `log-${cpus.join('-') || 'none'}`);
  const fd = openSync(file, 'a');
  const result = await runScript({ script: TREE, cwd: dir, env: process.env, logFd: fd, cpus, killGrace: 1 }).done;
  closeSync(fd);
  expect(result.code).toBe(0);
  const seen: Record<string, number[]> = {};
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [who, , list] = line.split(/\s+/);
    seen[who!] = parseCpuList(list!);
  }
  return seen;
}

describe('runScript pinning', () => {
  it('restricts the script, its children and grandchildren to the CPUs given', async () => {
    const last = allowedCpus().at(-1)!;
    expect(await cpusSeen([last])).toEqual({ script: [last], child: [last], grandchild: [last] });
  });

  it('without CPUs, or given all of them, the tree keeps every CPU the worker may use', async () => {
    const all = allowedCpus();
    expect(await cpusSeen([])).toEqual({ script: all, child: all, grandchild: all });
    expect(await cpusSeen([...all].reverse())).toEqual({ script: all, child: all, grandchild: all });
  });
});
