/** Issue 3 point 1: which CPUs a worker pins its jobs to, and when it does not pin. */
import { afterAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadSettings } from '../../src/core/settings.js';
import type { ServerSettings } from '../../src/core/settings-types.js';
import { allowedCpus, workerCpus } from '../../src/worker/cpus.js';
import { Cpusets } from '../../src/worker/cpuset.js';

const base = loadSettings({ configPath: '/dev/null', env: {} }).server;
const allowed = allowedCpus();
const lines: string[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(String(JSON.parse(chunk.toString()).msg));
      done();
    },
  }),
);
const originalPath = process.env.PATH;

afterAll(() => {
  process.env.PATH = originalPath;
});

function cpusFor(server: Partial<ServerSettings>): { cpus: number[]; said: string[] } {
  lines.length = 0;
  const cpus = workerCpus({ ...base, ...server }, log);
  return { cpus, said: [...lines] };
}

describe('workerCpus', () => {
  it('pins to the CPUs this process may use when the budget fits them', () => {
    expect(cpusFor({ maxNbProcessors: allowed.length, pinCpus: undefined })).toEqual({
      cpus: allowed,
      said: [`each job is pinned to nb_proc of CPUs ${allowed.join(',')} (${Cpusets.open() ? 'cgroup cpuset' : 'taskset'})`],
    });
  });

  it('oversubscription: no pinning, said once', () => {
    const { cpus, said } = cpusFor({ maxNbProcessors: allowed.length + 2, pinCpus: undefined });
    expect(cpus).toEqual([]);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(new RegExp(`MaxNbProcessors = ${allowed.length + 2} exceeds the ${allowed.length} CPU.*not pinned \\(oversubscription\\)`));
  });

  it('`cpus` (QM_CPUS) selects the CPUs of this worker', () => {
    const last = allowed.at(-1)!;
    expect(cpusFor({ maxNbProcessors: 1, cpus: String(last) }).cpus).toEqual([last]);
  });

  it('CPUs this process may not use are not pinned to', () => {
    const { cpus, said } = cpusFor({ maxNbProcessors: 1, cpus: '60000' });
    expect(cpus).toEqual([]);
    expect(said[0]).toMatch(/exceeds the 0 CPU/);
  });

  it('pin_cpus = false turns pinning off', () => {
    expect(cpusFor({ maxNbProcessors: 1, pinCpus: false })).toEqual({ cpus: [], said: [] });
  });

  it('without taskset jobs are not pinned, and the log says why', () => {
    process.env.PATH = '/nonexistent';
    const { cpus, said } = cpusFor({ maxNbProcessors: 1 });
    process.env.PATH = originalPath;
    expect(cpus).toEqual([]);
    expect(said).toEqual(['taskset (util-linux) not found: jobs are not pinned']);
  });
});
