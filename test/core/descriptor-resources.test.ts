/** Issue 14 point 2: GPUs, memory and tasks asked, in every format (cfg, xml, #QM, #SBATCH), and bad values named. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDescriptor } from '../../src/core/descriptor.js';
import { DescriptorError } from '../../src/core/descriptor-types.js';
import { parseGpuIds, parseMemoryMb } from '../../src/core/resources.js';

let job: string;

beforeEach(async () => {
  job = await fs.mkdtemp(path.join(os.tmpdir(), 'qm-resources-'));
});

afterEach(async () => {
  await fs.rm(job, { recursive: true, force: true });
});

async function read(file: string, text: string) {
  for (const old of await fs.readdir(job)) await fs.rm(path.join(job, old));
  await fs.writeFile(path.join(job, file), text);
  return readDescriptor(job, file.endsWith('.sh') ? 'proc_config.cfg' : file);
}

async function failure(file: string, text: string): Promise<string> {
  const error = await read(file, text).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DescriptorError);
  return (error as Error).message;
}

const script = (...directives: string[]) => `#!/bin/bash\n${directives.map((d) => `#SBATCH ${d}`).join('\n')}\npython train.py\n`;

describe('resources asked by a job', () => {
  it('reads nb_gpu and memory from cfg, xml and #QM; a bare size is megabytes', async () => {
    expect(await read('proc_config.cfg', '[QMOptions]\nscript = x\nnb_gpu = 2\nmemory = 16G\n')).toMatchObject({ nbGpu: 2, memoryMb: 16384 });
    expect(await read('infos.xml', '<PARAMETER><script value="x"/><nb_gpu value="1"/><memory value="500"/></PARAMETER>')).toMatchObject({ nbGpu: 1, memoryMb: 500 });
    expect(await read('a.sh', '#!/bin/sh\n#QM nb_gpu=3\n#QM memory=1.5G\n')).toMatchObject({ nbGpu: 3, memoryMb: 1536 });
    expect(await read('proc_config.cfg', '[QMOptions]\nscript = x\n')).toMatchObject({ nbGpu: 0, memoryMb: undefined, ntasks: undefined });
  });

  it('reads the #SBATCH GPU forms: --gres=gpu[:TYPE]:N, --gpus, -G, --gpus-per-node, --gpus-per-task × ntasks', async () => {
    expect(await read('a.sh', script('--gres=gpu:2'))).toMatchObject({ nbGpu: 2 });
    const typed = await read('a.sh', script('--gres=gpu:a100:4'));
    expect(typed.nbGpu).toBe(4);
    // a QM: line of the job's process.log (SPEC §9)
    expect(typed.notices).toEqual(['a.sh line 2: GPU type a100 of #SBATCH --gres ignored: any of the worker\'s GPUs is given']);
    expect(await read('a.sh', script('--gres=gpu'))).toMatchObject({ nbGpu: 1 });
    expect(await read('a.sh', script('--gpus=1'))).toMatchObject({ nbGpu: 1 });
    expect(await read('a.sh', script('-G 4'))).toMatchObject({ nbGpu: 4 });
    expect(await read('a.sh', script('--gpus-per-node=v100:2'))).toMatchObject({ nbGpu: 2 });
    expect(await read('a.sh', script('-n 3', '--gpus-per-task=2'))).toMatchObject({ nbGpu: 6, ntasks: 3 });
  });

  it('reads -n/--ntasks (nb_proc = ntasks × cpus-per-task) and --mem, --mem-per-cpu (× nb_proc), --mem=0', async () => {
    expect(await read('a.sh', script('-n 8'))).toMatchObject({ nbProc: 8, ntasks: 8 });
    expect(await read('a.sh', script('--ntasks=2', '--cpus-per-task=3'))).toMatchObject({ nbProc: 6, ntasks: 2 });
    expect(await read('a.sh', script('--mem=500M'))).toMatchObject({ memoryMb: 500 });
    expect(await read('a.sh', script('--mem 2048'))).toMatchObject({ memoryMb: 2048 });
    expect(await read('a.sh', script('-c 4', '--mem-per-cpu=1G'))).toMatchObject({ nbProc: 4, memoryMb: 4096 });
    expect(await read('a.sh', script('--mem=0'))).toMatchObject({ memoryMb: 0 });
    // a later #QM line wins over #SBATCH, as qm submit writes them
    expect(await read('a.sh', `${script('-n 2', '-c 2', '--mem=1G')}`.replace('python', '#QM nb_proc=3\n#QM memory=2G\npython'))).toMatchObject({ nbProc: 3, ntasks: 2, memoryMb: 2048 });
  });

  it('refuses a bad value with one error naming the key or option and the file', async () => {
    expect(await failure('proc_config.cfg', '[QMOptions]\nscript = x\nmemory = lots\n')).toMatch(/^proc_config\.cfg line 3: memory = "lots": expected a size like 500M or 16G/);
    expect(await failure('proc_config.cfg', '[QMOptions]\nscript = x\nnb_gpu = -1\n')).toMatch(/^proc_config\.cfg line 3: nb_gpu = "-1": expected an integer >= 0/);
    expect(await failure('a.sh', script('--gres=gpu:x:y:2'))).toMatch(/^a\.sh line 2: #SBATCH --gres=gpu:x:y:2: expected gpu\[:TYPE\]:N/);
    expect(await failure('a.sh', script('--gpus=two'))).toMatch(/^a\.sh line 2: #SBATCH --gpus=two: expected a number of GPUs/);
    expect(await failure('a.sh', script('--mem=12Q'))).toMatch(/^a\.sh line 2: #SBATCH --mem = "12Q": expected a size/);
    expect(await failure('a.sh', script('-n 0'))).toMatch(/^a\.sh line 2: #SBATCH -n = "0": expected an integer >= 1/);
  });

  it('reads sizes and GPU lists', () => {
    expect([parseMemoryMb('500M'), parseMemoryMb('16G'), parseMemoryMb('100'), parseMemoryMb('1T'), parseMemoryMb('512K'), parseMemoryMb('2GB')]).toEqual([500, 16384, 100, 1048576, 1, 2048]);
    expect(parseMemoryMb('-1')).toBeUndefined();
    expect(parseGpuIds('0-3')).toEqual(['0', '1', '2', '3']);
    expect(parseGpuIds('0,2')).toEqual(['0', '2']);
    expect(parseGpuIds('none')).toEqual([]);
    expect(() => parseGpuIds('a-b')).toThrow(/expected ids like 0-3/);
  });
});
