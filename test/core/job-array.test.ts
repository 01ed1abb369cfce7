import { describe, expect, it } from 'vitest';
import { arrayTasks, parseArraySpec, splitTaskName } from '../../src/core/job-array.js';
import { dependencyOf, parseDependency } from '../../src/core/dependencies.js';

describe('array SPEC', () => {
  it('reads the forms sbatch reads', () => {
    expect(parseArraySpec('0-15').indices).toEqual([...Array(16).keys()]);
    expect(parseArraySpec('1,3,5-7').indices).toEqual([1, 3, 5, 6, 7]);
    expect(parseArraySpec('0-20:5').indices).toEqual([0, 5, 10, 15, 20]);
    expect(parseArraySpec('1-698%64')).toMatchObject({ limit: 64, text: '1-698%64' });
    expect(parseArraySpec('7')).toMatchObject({ indices: [7] });
  });

  it('refuses what sbatch refuses', () => {
    for (const bad of ['', 'a-b', '5-1', '1-3%0', '1-3%x', 'SRR1,SRR2', '0-2000000', '1-4:0', '1-2%3%4']) {
      expect(() => parseArraySpec(bad), bad).toThrow(/expected an array SPEC/);
    }
  });

  it('gives each task the SLURM_ARRAY_* facts; the step only for one evenly spaced range', () => {
    const tasks = arrayTasks('a', 'id1', parseArraySpec('0-20:5%2'));
    expect(tasks[1]).toEqual({ name: 'a', id: 'id1', index: 5, count: 5, min: 0, max: 20, step: 5, limit: 2 });
    expect(arrayTasks('a', 'id', parseArraySpec('1,2,7'))[0]).toMatchObject({ step: 1, count: 3, min: 1, max: 7 });
    expect(splitTaskName('my_run_12')).toEqual({ array: 'my_run', index: 12 });
    expect(splitTaskName('plain')).toBeUndefined();
  });
});

describe('Slurm dependencies', () => {
  it('reads kinds, names, "," (all) and "?" (any), singleton', () => {
    expect(parseDependency('afterok:A:B,afterany:C')).toEqual({
      all: [{ kind: 'afterok', name: 'A' }, { kind: 'afterok', name: 'B' }, { kind: 'afterany', name: 'C' }], any: [], singleton: false,
    });
    expect(parseDependency('afterok:A?afternotok:B')).toMatchObject({ all: [], any: [{ kind: 'afterok' }, { kind: 'afternotok' }] });
    expect(parseDependency('singleton')).toMatchObject({ singleton: true, all: [] });
    expect(parseDependency('after:A+10')).toMatchObject({ all: [{ kind: 'after', name: 'A' }] });
    expect(dependencyOf({ after: ['x'], keys: { dependency: 'afterany:y' } }).all.map((t) => `${t.kind}:${t.name}`)).toEqual(['afterok:x', 'afterany:y']);
  });

  it('refuses an unknown kind, a kind without names, and "," mixed with "?"', () => {
    expect(() => parseDependency('aftercorr:A')).toThrow(/unknown dependency type "aftercorr"/);
    expect(() => parseDependency('afterok')).toThrow(/afterok names no job/);
    expect(() => parseDependency('afterok:A,afterany:B?after:C')).toThrow(/cannot be mixed/);
  });
});
