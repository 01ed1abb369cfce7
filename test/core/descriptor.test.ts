import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseDuration, readDescriptor } from '../../src/core/descriptor.js';
import { DescriptorError } from '../../src/core/descriptor-types.js';

let tmp: string;
let job: string;

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'qm-descriptor-'));
  job = path.join(tmp, 'job');
  await fs.mkdir(job);
});

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function write(name: string, content: string | Buffer): Promise<void> {
  await fs.writeFile(path.join(job, name), content);
}

async function cfg(body: string, jobFile = 'proc_config.cfg') {
  await write(jobFile, `[QMOptions]\n${body}\n`);
  return readDescriptor(job, jobFile);
}

async function failure(read: Promise<unknown>): Promise<string> {
  const error = await read.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(DescriptorError);
  return (error as Error).message;
}

describe('readDescriptor: cfg', () => {
  it('reads the README test_QM descriptor', async () => {
    await write('proc_config.cfg', '[Proc]\nSize : 50\n\n[QMOptions]\nnb_proc : 4\ne_mail : madelsuc@unistra.fr\n'
      + 'info : Test of the QM manager\nscript : python test.py proc_config.cfg\n');
    expect(await readDescriptor(job, 'proc_config.cfg')).toEqual({
      format: 'cfg', file: 'proc_config.cfg', fileMtimeMs: statSync(path.join(job, 'proc_config.cfg')).mtimeMs, script: 'python test.py proc_config.cfg', nbProc: 4,
      ntasks: undefined, nbGpu: 0, memoryMb: undefined, email: 'madelsuc@unistra.fr', info: 'Test of the QM manager', priority: 0, size: undefined,
      timeLimit: undefined, after: [], mailType: [], jobName: undefined, warnings: [], hold: false, begin: undefined,
      array: undefined, args: [], dependency: undefined, output: undefined, error: undefined, notices: [],
      keys: { nb_proc: '4', e_mail: 'madelsuc@unistra.fr', info: 'Test of the QM manager', script: 'python test.py proc_config.cfg' },
    });
  });

  it('reads every key, keeps unknown ones, ; # % and continuation lines', async () => {
    const d = await cfg(['Script = make clean; make all # build', '    ./run --ratio=50%', 'E-Mail : a@x.org, b@y.org',
      'PRIORITY = -5', 'size = big', 'time_limit = 1-02:03:04', 'after = prep1, prep2 prep3', 'mail_type = end,fail',
      'my_param = 3', '__proto__ = 1'].join('\n'));
    expect(d).toMatchObject({
      script: 'make clean; make all # build\n./run --ratio=50%', nbProc: 1, email: 'a@x.org, b@y.org', priority: -5,
      size: 'big', timeLimit: 86400 + 2 * 3600 + 3 * 60 + 4, after: ['prep1', 'prep2', 'prep3'], mailType: ['END', 'FAIL'],
    });
    expect(d.keys.my_param).toBe('3');
    expect(Object.getPrototypeOf(d.keys)).toBe(Object.prototype);
    expect(Object.keys(d.keys)).toContain('__proto__');
  });

  it('finds [QMOptions] case-insensitively, reads time_limit as seconds', async () => {
    await write('proc_config.cfg', '[qmoptions]\nscript = true\ntime_limit = 90\n');
    expect(await readDescriptor(job, 'proc_config.cfg')).toMatchObject({ script: 'true', timeLimit: 90 });
  });

  it('gives file, line, key, value and expected form for every bad value', async () => {
    const cases: Array<[string, string]> = [
      ['nb_proc = abc', 'nb_proc = "abc": expected an integer >= 1 (at most 100000)'],
      ['nb_proc = 0', 'nb_proc = "0": expected an integer >= 1 (at most 100000)'],
      ['nb_proc = -1', 'nb_proc = "-1": expected an integer >= 1 (at most 100000)'],
      ['nb_proc = 1.5', 'nb_proc = "1.5": expected an integer >= 1 (at most 100000)'],
      ['nb_proc = 1e9', 'nb_proc = "1e9": expected an integer >= 1 (at most 100000)'],
      ['nb_proc = 100001', 'nb_proc = "100001": expected an integer >= 1 (at most 100000)'],
      ['priority = high', 'priority = "high": expected an integer from -1000000 to 1000000'],
      ['priority = 1000001', 'priority = "1000001": expected an integer from -1000000 to 1000000'],
      ['time_limit = 0', 'time_limit = "0": expected a number of seconds or [[D-]HH:]MM:SS'],
      ['time_limit = 1:99', 'time_limit = "1:99": expected a number of seconds or [[D-]HH:]MM:SS'],
      ['time_limit = soon', 'time_limit = "soon": expected a number of seconds or [[D-]HH:]MM:SS'],
      ['e_mail = me at home', 'e_mail = "me at home": expected an e-mail address like me@example.org'],
      ['e-mail = <a@b>', 'e-mail = "<a@b>": expected an e-mail address like me@example.org'],
      ['after = ../etc', 'after = "../etc": expected job names separated by commas or spaces'],
      ['mail_type = SOMETIMES', 'mail_type = "SOMETIMES": expected mail types separated by commas (NONE, BEGIN, END, '
        + 'FAIL, REQUEUE, ALL, INVALID_DEPEND, STAGE_OUT, TIME_LIMIT, TIME_LIMIT_90, TIME_LIMIT_80, TIME_LIMIT_50, ARRAY_TASKS)'],
    ];
    for (const [line, expected] of cases) {
      expect(await failure(cfg(`script = run\n${line}`))).toBe(`proc_config.cfg line 3: ${expected}`);
    }
  });

  it('requires a script and the [QMOptions] section', async () => {
    expect(await failure(cfg('nb_proc = 2'))).toBe('proc_config.cfg: script is missing: expected script = <command to run>');
    expect(await failure(cfg('script =   '))).toBe('proc_config.cfg line 2: script = "": expected the command to run');
    await write('proc_config.cfg', '[Proc]\nSize : 50\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe(
      'proc_config.cfg: no [QMOptions] section: expected [QMOptions] with script = <command>',
    );
    await write('proc_config.cfg', '[QMOptions]\nscript = a\nno separator here\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe(
      'proc_config.cfg line 3: expected "key = value", "key : value" or "[section]", got "no separator here"',
    );
  });

  it('treats an empty optional value as not given', async () => {
    expect(await cfg('script = x\nnb_proc =\ne_mail =\ntime_limit =')).toMatchObject({ nbProc: 1, email: undefined, timeLimit: undefined });
  });
});

describe('readDescriptor: xml', () => {
  it('reads the README example with <e-mail value=...>', async () => {
    await write('infos.xml', `<PARAMETER>
    <nb_proc value="12"/>
    <e-mail value="me@gmail.com"/>
    <script value="python process.py param1 param2"/>
    <info value="some description of the job"/>
</PARAMETER>`);
    expect(await readDescriptor(job, 'infos.xml')).toMatchObject({
      format: 'xml', file: 'infos.xml', script: 'python process.py param1 param2', nbProc: 12,
      email: 'me@gmail.com', info: 'some description of the job',
      keys: { nb_proc: '12', 'e-mail': 'me@gmail.com', script: 'python process.py param1 param2', info: 'some description of the job' },
    });
  });

  it('reads <e_mail>, entities, text content, any root name; ignores unknown elements but keeps them', async () => {
    await write('infos.xml', `<?xml version="1.0" encoding="utf-8"?>
<!-- a comment -->
<Job version="2">
  <E_MAIL value="x@y.fr"/>
  <script value="a &amp;&amp; b &lt; in &#x41;"/>
  <info>described in text</info>
  <extra value="kept"/>
  <nested><deep value="1"/></nested>
</Job>`);
    const d = await readDescriptor(job, 'infos.xml');
    expect(d).toMatchObject({ email: 'x@y.fr', script: 'a && b < in A', info: 'described in text' });
    expect(d.keys).toEqual({ e_mail: 'x@y.fr', script: 'a && b < in A', info: 'described in text', extra: 'kept' });
  });

  it('refuses a billion-laughs document fast, without expanding it', async () => {
    const levels = ['<!ENTITY lol "lol">'];
    for (let i = 1; i <= 9; i++) levels.push(`<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`);
    await write('infos.xml', `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n${levels.join('\n')}\n]>\n`
      + '<PARAMETER><script value="&lol9;"/></PARAMETER>');
    const started = Date.now();
    expect(await failure(readDescriptor(job, 'infos.xml'))).toBe('infos.xml: DOCTYPE and ENTITY declarations are not allowed');
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses external entities and malformed XML', async () => {
    await write('infos.xml', '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><p><script value="&x;"/></p>');
    expect(await failure(readDescriptor(job, 'infos.xml'))).toBe('infos.xml: DOCTYPE and ENTITY declarations are not allowed');
    await write('infos.xml', '<PARAMETER>\n<script value="x">\n</PARAMETER>');
    expect(await failure(readDescriptor(job, 'infos.xml'))).toMatch(/^infos\.xml line 3: not well-formed XML: /);
    await write('infos.xml', '<a><script value="x"/></a><b/>');
    expect(await failure(readDescriptor(job, 'infos.xml'))).toBe('infos.xml: expected one root element like <PARAMETER>');
    await write('infos.xml', '<PARAMETER><nb_proc value="abc"/><script value="x"/></PARAMETER>');
    expect(await failure(readDescriptor(job, 'infos.xml'))).toBe('infos.xml: nb_proc = "abc": expected an integer >= 1 (at most 100000)');
    await write('infos.xml', '<PARAMETER><constructor value="x"/><script value="x"/></PARAMETER>');
    expect(await failure(readDescriptor(job, 'infos.xml'))).toMatch(/^infos\.xml: cannot read XML: /);
  });
});

describe('readDescriptor: shell mode', () => {
  const SLURM_SCRIPT = `#!/bin/bash
# A slurm-like job
#SBATCH --job-name=fit-model
#SBATCH -c 8
#SBATCH --time=1-12:00
#SBATCH --mail-user=me@lab.org --mail-type=END,FAIL
#SBATCH --comment="nightly fit"   # trailing comment
#SBATCH --dependency=afterok:prep:clean,afterany:other
#SBATCH --nodes 2
#SBATCH --partition=gpu

#QM priority = 5
#QM size=large
#QM script=rm -rf /
set -e
#SBATCH -c 64
#QM nb_proc=64
python fit.py
`;

  it('reads #SBATCH and #QM directives of the leading comment block', async () => {
    await write('run job.sh', SLURM_SCRIPT);
    const d = await readDescriptor(job, 'proc_config.cfg');
    expect(d).toMatchObject({
      format: 'sh', file: 'run job.sh', script: `/bin/bash './run job.sh'`, nbProc: 8, jobName: 'fit-model', timeLimit: 36 * 3600,
      email: 'me@lab.org', mailType: ['END', 'FAIL'], info: 'nightly fit', after: [], priority: 5, size: 'large',
      dependency: 'afterok:prep:clean,afterany:other',
    });
    expect(d.warnings).toEqual(['run job.sh line 14: #QM script ignored: the script is run job.sh']);
    expect(d.notices).toEqual([
      '#SBATCH --nodes=2: runs on one host (QM does not spread a job over hosts) (run job.sh line 9)',
      '#SBATCH --partition=gpu ignored: QM has no partitions: any worker with room runs the job (run job.sh line 10)',
    ]);
  });

  it('reads short options with attached values and Slurm time forms (bare number = minutes)', async () => {
    await write('a.sh', "#!/bin/sh\n#SBATCH -c4 -J 'my job' -t 90\n");
    expect(await readDescriptor(job, 'proc_config.cfg')).toMatchObject({ nbProc: 4, jobName: 'my job', timeLimit: 5400 });
    await write('a.sh', '#!/bin/sh\n#SBATCH --time 10:30\n#SBATCH --cpus-per-task 2\n');
    expect(await readDescriptor(job, 'proc_config.cfg')).toMatchObject({ nbProc: 2, timeLimit: 630 });
    await write('a.sh', '#!/bin/sh\n#SBATCH -t 5\n#SBATCH -t UNLIMITED\n');
    expect((await readDescriptor(job, 'proc_config.cfg')).timeLimit).toBeUndefined();
  });

  it('runs the script by its #! line (the interpreter and one argument, as the kernel reads it), with its arguments', async () => {
    await write("it's.sh", '#!/bin/bash -e\necho hi\n');
    expect((await readDescriptor(job, 'proc_config.cfg')).script).toBe(`/bin/bash -e './it'\\''s.sh'`);
    await fs.rm(path.join(job, "it's.sh"));
    await write('fit.sh', '#!/usr/bin/env python3\n#SBATCH -c 2\n#QM args=["a b", "c"]\nimport os\n');
    expect(await readDescriptor(job, 'proc_config.cfg')).toMatchObject({ script: `/usr/bin/env python3 ./fit.sh 'a b' c`, nbProc: 2, args: ['a b', 'c'] });
    await write('fit.sh', '#SBATCH -c 2\necho no interpreter\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe(
      'fit.sh: This does not look like a batch script. The first line must start with #! followed by the path to an interpreter.',
    );
  });

  it('reads arrays, dependencies, --output/--error, and keeps a placeholder --mail-user while mail is off', async () => {
    await write('a.sh', '#!/bin/sh\n#SBATCH --array=1-698%64 -o logs/%x_%A_%a.out --error=err_%j\n#SBATCH -d afterany:prep?afternotok:x\n#SBATCH --mail-user=<your_email>\n');
    const d = await readDescriptor(job, 'proc_config.cfg');
    expect(d).toMatchObject({ output: 'logs/%x_%A_%a.out', error: 'err_%j', dependency: 'afterany:prep?afternotok:x', email: undefined });
    expect(d.array).toMatchObject({ limit: 64, text: '1-698%64' });
    expect(d.array!.indices).toHaveLength(698);
    expect(d.notices).toEqual(['#SBATCH --mail-user=<your_email> is not a mail address; no mail is sent (MailActive is off) (a.sh line 4)']);
    expect(await failure(readDescriptor(job, 'proc_config.cfg', { mailActive: true }))).toMatch(/a\.sh line 4: #SBATCH --mail-user = "<your_email>": expected an e-mail address/);
    await write('a.sh', '#!/bin/sh\n#SBATCH --array=5-1\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toMatch(/^a\.sh line 2: #SBATCH --array = "5-1": expected an array SPEC/);
  });

  it('reports bad directive values with file, line and option', async () => {
    await write('a.sh', '#!/bin/bash\n#SBATCH -c abc\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe(
      'a.sh line 2: #SBATCH -c = "abc": expected an integer >= 1 (at most 100000)',
    );
    await write('a.sh', '#!/bin/sh\n#SBATCH --time=forever\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe(
      'a.sh line 2: #SBATCH --time = "forever": expected a number of minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS',
    );
    await write('a.sh', '#!/bin/sh\n#SBATCH -J\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe('a.sh line 2: #SBATCH -J: missing value');
    await write('a.sh', '#!/bin/sh\n#QM nb_proc\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe('a.sh line 2: #QM nb_proc: expected #QM key=value');
    await write('a.sh', '#!/bin/sh\n#QM priority=urgent\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe(
      'a.sh line 2: #QM priority = "urgent": expected an integer from -1000000 to 1000000',
    );
  });

  it('prefers the descriptor; needs exactly one script without it', async () => {
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe('no descriptor: expected proc_config.cfg (or one *.sh script)');
    await write('.hidden.sh', 'echo\n');
    expect(await failure(readDescriptor(job, 'infos.xml'))).toBe('no descriptor: expected infos.xml (or one *.sh script)');
    await write('a.sh', 'echo a\n');
    await write('b.sh', 'echo b\n');
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe(
      'no descriptor: expected proc_config.cfg (or one *.sh script), found 2: a.sh, b.sh',
    );
    await write('proc_config.cfg', '[QMOptions]\nscript = sh a.sh\n');
    expect((await readDescriptor(job, 'proc_config.cfg')).format).toBe('cfg');
  });
});

describe('readDescriptor: keys QM does not read', () => {
  it('says which, in every format, with the key each may stand for; none for the keys QM reads', async () => {
    const typos = await cfg(['script = run', 'Time = 60', 'nproc = 2', 'email = a@x.org', 'mem = 4G', 'prio = 3', 'my_param = 3',
      'TIME_LIMIT = 5', 'omp_num_threads = 1', 'submit_dir = /home/a'].join('\n'));
    const unknown = (key: string, line: number, meant?: string) =>
      `unknown key ${key}: kept and shown, not used by QM${meant ? ` (did you mean ${meant}?)` : ''} (proc_config.cfg line ${line})`;
    expect(typos.notices).toEqual([
      unknown('time', 3, 'time_limit'), unknown('nproc', 4, 'nb_proc'), unknown('email', 5, 'e_mail'),
      unknown('mem', 6, 'memory'), unknown('prio', 7, 'priority'), unknown('my_param', 8),
    ]);
    expect(typos.keys).toMatchObject({ time: '60', my_param: '3' });

    await write('infos.xml', '<PARAMETER><script value="run"/><nb_procs value="2"/></PARAMETER>');
    expect((await readDescriptor(job, 'infos.xml')).notices).toEqual(['unknown key nb_procs: kept and shown, not used by QM (did you mean nb_proc?) (infos.xml)']);

    for (const file of ['infos.xml', 'proc_config.cfg']) await fs.rm(path.join(job, file));
    await write('a.sh', '#!/bin/sh\n#SBATCH -t 5\n#QM arry=1-3\ntrue\n');
    expect((await readDescriptor(job, 'proc_config.cfg')).notices).toEqual(['unknown key #QM arry: kept and shown, not used by QM (did you mean array?) (a.sh line 3)']);
  });
});

describe('readDescriptor: unsafe descriptors', () => {
  it('refuses a folder, a link outside the job, a broken link, a huge file and NUL bytes', async () => {
    await fs.mkdir(path.join(job, 'proc_config.cfg'));
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe('proc_config.cfg: is a folder, expected a file');
    await fs.writeFile(path.join(tmp, 'outside.cfg'), '[QMOptions]\nscript = x\n');
    await fs.symlink(path.join(tmp, 'outside.cfg'), path.join(job, 'out.cfg'));
    expect(await failure(readDescriptor(job, 'out.cfg'))).toBe('out.cfg: is a symbolic link pointing outside the job folder');
    await fs.symlink('nowhere.cfg', path.join(job, 'broken.cfg'));
    expect(await failure(readDescriptor(job, 'broken.cfg'))).toBe('broken.cfg: is a broken symbolic link');
    await write('real.cfg', '[QMOptions]\nscript = inside\n');
    await fs.symlink('real.cfg', path.join(job, 'link.cfg'));
    expect((await readDescriptor(job, 'link.cfg')).script).toBe('inside');
    await write('big.cfg', `[QMOptions]\nscript = x\n${'#'.repeat(1024 * 1024)}\n`);
    expect(await failure(readDescriptor(job, 'big.cfg'))).toBe('big.cfg: is larger than 1 MiB');
    await write('nul.cfg', Buffer.from('[QMOptions]\nscript = x\0\n'));
    expect(await failure(readDescriptor(job, 'nul.cfg'))).toBe('nul.cfg: contains NUL bytes (not a text file)');
  });

  it('refuses a script linked from outside the job in shell mode', async () => {
    await fs.writeFile(path.join(tmp, 'evil.sh'), '#SBATCH -c 2\n');
    await fs.symlink(path.join(tmp, 'evil.sh'), path.join(job, 'run.sh'));
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe('run.sh: is a symbolic link pointing outside the job folder');
  });

  it('does not block on a FIFO', async () => {
    execFileSync('mkfifo', [path.join(job, 'proc_config.cfg')]);
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe('proc_config.cfg: is not a regular file');
  });

  it.skipIf(process.getuid?.() === 0)('reports an unreadable descriptor', async () => {
    await write('proc_config.cfg', '[QMOptions]\nscript = x\n');
    await fs.chmod(path.join(job, 'proc_config.cfg'), 0o000);
    expect(await failure(readDescriptor(job, 'proc_config.cfg'))).toBe('proc_config.cfg: cannot be read (permission denied)');
  });
});

describe('parseDuration', () => {
  it('reads seconds or minutes and the Slurm clock forms', () => {
    const cases: Array<[string, 's' | 'min', number]> = [['90', 's', 90], ['1.5', 's', 1.5], ['90', 'min', 5400],
      ['05:30', 's', 330], ['90:00', 's', 5400], ['2:00:01', 'min', 7201], ['1-2', 'min', 26 * 3600],
      ['1-2:30', 'min', 26 * 3600 + 1800], [' 2-00:00:10 ', 's', 2 * 86400 + 10]];
    for (const [text, bareUnit, seconds] of cases) expect(parseDuration(text, { bareUnit }), text).toBe(seconds);
  });

  it('throws with the expected form', () => {
    for (const bad of ['', '0', '-5', 'abc', '1:60', '1-24', '1:2:3:4', '1e3', '1-', ':30']) {
      expect(() => parseDuration(bad, { bareUnit: 's' }), bad).toThrow('expected a number of seconds or [[D-]HH:]MM:SS');
    }
    expect(() => parseDuration('x', { bareUnit: 'min' })).toThrow('"x": expected a number of minutes, MM:SS');
  });
});
