/**
 * Issue 3 point 1: a pinned job's whole process tree runs on its CPUs only;
 * the shell QM runs a script in is a plain `/bin/sh -c SCRIPT` to the script.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runScript, type CpusetSource } from '../../src/worker/runner.js';
import { Cpusets } from '../../src/worker/cpuset.js';
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

/** Runs `script` as a job (no pinning unless `cpus`); its process.log and how it ended. */
async function run(script: string, opts: { cpus?: number[]; cpusets?: CpusetSource } = {}) {
  const file = path.join(dir, `job-${++runs}.log`);
  const fd = openSync(file, 'a');
  const proc = runScript({ script, cwd: dir, env: process.env, logFd: fd, cpus: opts.cpus ?? [], cpusets: opts.cpusets, killGrace: 1 });
  closeSync(fd);
  const result = await proc.done;
  return { ...result, pid: proc.pid, log: readFileSync(file, 'utf8') };
}
let runs = 0;

describe('the job\'s shell (SPEC §3: /bin/sh -c SCRIPT)', () => {
  it('is the script\'s own: $$ leads its process group, $0 and $# are a plain `sh -c`\'s, its line numbers the script\'s', async () => {
    const { code, pid, log } = await run('echo "$$ $0 $# $(cut -d" " -f5 /proc/$$/stat)"\necho two\nno-such-command\nexit 3');
    expect(code).toBe(3);
    const [first, second, error] = log.trim().split('\n');
    expect(first!.split(/\s+/)).toEqual([String(pid), '/bin/sh', '0', String(pid)]);
    expect(second).toBe('two');
    expect(error).toBe('/bin/sh: 3: no-such-command: not found');
  });

  it('a `wait` in the script waits for the script\'s children only', async () => {
    const { code, log } = await run('sleep 0.1 & wait; echo waited');
    expect({ code, log }).toEqual({ code: 0, log: 'waited\n' });
  });

  it('reports the CPU time of the shell and its children; none when the script ends by exec', async () => {
    const burn = 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done';
    expect((await run(`${burn}; sh -c '${burn}'`)).cpu).toBeGreaterThan(0.1);
    // one command, the usual script line: the shell still waits for it (its traps must run)
    expect((await run(`sh -c '${burn}'`)).cpu).toBeGreaterThan(0.05);
    expect((await run('exec true')).cpu).toBeUndefined();
    // the files the CPU times came through are gone
    expect(readdirSync(os.tmpdir()).filter((f) => f.startsWith(`qm-times-${process.pid}-`))).toEqual([]);
  });
});

describe('pinning by cgroup cpuset', () => {
  const cpusets = Cpusets.open();
  afterAll(() => cpusets?.close());

  it.skipIf(!cpusets)('puts the job in the cpuset of its CPUs: it cannot widen its own affinity', async () => {
    const last = allowedCpus().at(-1)!;
    const all = allowedCpus().join(',');
    const { code, log } = await run(
      `grep cpuset /proc/self/cgroup; taskset -p -c ${all} $$ >/dev/null 2>&1; grep Cpus_allowed_list /proc/self/status`,
      { cpus: [last], cpusets },
    );
    expect(code).toBe(0);
    expect(log).toContain(`/qm-cpus-${last}\n`);
    expect(parseCpuList(/Cpus_allowed_list:\s*(\S+)/.exec(log)![1]!)).toEqual([last]);
  });

  it('where the cpuset cannot be joined, the job pins itself with taskset', async () => {
    const last = allowedCpus().at(-1)!;
    const unjoinable: CpusetSource = { tasksFile: () => path.join(dir, 'no-such-cgroup', 'tasks') };
    const { code, log } = await run('grep Cpus_allowed_list /proc/self/status', { cpus: [last], cpusets: unjoinable });
    expect({ code, log }).toEqual({ code: 0, log: `Cpus_allowed_list:\t${last}\n` });
  });
});
