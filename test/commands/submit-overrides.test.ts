/** `qm submit`'s options written into each descriptor format, read back by the descriptor reader QM uses. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { patchCfg, patchScript, patchXml, type Overrides } from '../../src/commands/submit-overrides.js';
import { readDescriptor } from '../../src/core/descriptor.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function readBack(file: string, text: string, jobFile = 'proc_config.cfg') {
  dir = mkdtempSync(path.join(os.tmpdir(), 'qm-overrides-'));
  writeFileSync(path.join(dir, file), text);
  return readDescriptor(dir, jobFile);
}

const ALL: Overrides = { nb_proc: '4', priority: '-2', time_limit: '90', after: 'a,b' };

describe('cfg descriptors', () => {
  it('replaces the keys in [QMOptions], continuation lines included, and keeps everything else', async () => {
    const text = [
      '[Proc]',
      'nb_proc : 99',
      '',
      '[QMOptions]',
      '; the old settings',
      'NB_PROC : 1',
      'script : python run.py',
      'after : x,',
      '    y',
      'info : multi',
      '  line',
      '[Other]',
      'priority = 9',
    ].join('\n');
    const patched = patchCfg(text, ALL);
    const d = await readBack('proc_config.cfg', patched);
    expect(d).toMatchObject({ nbProc: 4, priority: -2, timeLimit: 90, after: ['a', 'b'], script: 'python run.py', info: 'multi\nline' });
    expect(patched).toContain('[Proc]\nnb_proc : 99\n');
    expect(patched).toContain('[Other]\npriority = 9');
    expect(patched).not.toMatch(/NB_PROC : 1|^ +y$/m);
  });

  it('adds keys at the end of the section, where an indented line cannot continue them', async () => {
    const patched = patchCfg('[QMOptions]\n  script = true\n  info = indented keys\n', { nb_proc: '2' });
    expect(await readBack('proc_config.cfg', patched)).toMatchObject({ nbProc: 2, script: 'true', info: 'indented keys' });
  });

  it('an empty value removes the time limit', async () => {
    const patched = patchCfg('[QMOptions]\nscript = true\ntime_limit = 60\n', { time_limit: '' });
    expect((await readBack('proc_config.cfg', patched)).timeLimit).toBeUndefined();
  });
});

describe('xml descriptors', () => {
  it('replaces the elements of those keys, whatever their case, and escapes values', async () => {
    const text = '<?xml version="1.0"?>\n<PARAMETER>\n  <NB_PROC value="1"/>\n  <script value="run &amp; done"/>\n  <after>old</after>\n</PARAMETER>\n';
    const patched = patchXml(text, { ...ALL, after: 'a<b' });
    const d = await readBack('infos.xml', patchXml(text, ALL), 'infos.xml');
    expect(d).toMatchObject({ nbProc: 4, priority: -2, timeLimit: 90, after: ['a', 'b'], script: 'run & done' });
    expect(patched).toContain('<after value="a&lt;b"/>');
  });

  it('opens an empty root', () => {
    expect(patchXml('<PARAMETER/>\n', { nb_proc: '3' })).toBe('<PARAMETER>\n    <nb_proc value="3"/>\n</PARAMETER>\n');
  });
});

describe('shell-mode scripts', () => {
  it('adds #QM lines after the directives, where they override #SBATCH', async () => {
    const text = '#!/bin/bash\n#SBATCH -c 2\n#SBATCH --dependency=afterok:old\n\necho run\n#QM nb_proc=9\n';
    const patched = patchScript(text, ALL);
    expect(patched).toBe('#!/bin/bash\n#SBATCH -c 2\n#SBATCH --dependency=afterok:old\n\n#QM nb_proc=4\n#QM priority=-2\n#QM time_limit=90\n#QM after=a,b\necho run\n#QM nb_proc=9\n');
    expect(await readBack('job.sh', patched)).toMatchObject({ nbProc: 4, priority: -2, timeLimit: 90, after: ['a', 'b'] });
  });

  it('appends them to a script that is all comments', () => {
    expect(patchScript('#!/bin/sh\n# nothing\n', { nb_proc: '2' })).toBe('#!/bin/sh\n# nothing\n#QM nb_proc=2\n');
  });
});
