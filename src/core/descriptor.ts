/**
 * Reads a job's descriptor (SPEC §2) into a `Descriptor`:
 * 1. reads `dir/jobFile` safely: inside the folder, a regular file, at most
 *    1 MiB, no NUL bytes;
 * 2. takes the raw keys from `[QMOptions]` (cfg), from the root's children
 *    (xml, with DOCTYPE refused so no entity can expand), or from the
 *    `#QM`/`#SBATCH` comment block of the folder's only `*.sh` (shell mode);
 * 3. validates the known keys; every error is a `DescriptorError` naming the
 *    file (and line), the key, the value and the form expected.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DescriptorError, type Descriptor, type DescriptorFormat } from './descriptor-types.js';
import { cfgKeys, xmlKeys } from './descriptor-formats.js';
import { resourcesOf, sbatchResource, type RawKey, type RawKeys } from './descriptor-resources.js';
import { unknownKeyNotices } from './descriptor-keys.js';
import { parseArraySpec, type ArraySpec } from './job-array.js';
import { FLAG_OPTIONS, ignoredReason, SHORT_FORMS } from './sbatch-options.js';
import { BEGIN_FORMS, parseBeginTime } from './begin-time.js';

const MAX_DESCRIPTOR_BYTES = 1024 * 1024;
/** Shell mode reads only the head of the script: directives come first. */
const SCRIPT_HEAD_BYTES = 64 * 1024;
const MAX_PRIORITY = 1_000_000;
const MAIL_TYPES = ['NONE', 'BEGIN', 'END', 'FAIL', 'REQUEUE', 'ALL', 'INVALID_DEPEND', 'STAGE_OUT',
  'TIME_LIMIT', 'TIME_LIMIT_90', 'TIME_LIMIT_80', 'TIME_LIMIT_50', 'ARRAY_TASKS'];
const DURATION_FORMS = {
  s: 'a number of seconds or [[D-]HH:]MM:SS',
  min: 'a number of minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS',
};


/** What a format knows besides its keys; `interpreter` only in shell mode (the script's `#!` line). */
type Frame = {
  format: DescriptorFormat;
  file: string;
  fileMtimeMs: number;
  interpreter?: string[];
  jobName?: string;
  warnings: string[];
  notices: string[];
  /** --mail-user as written: checked only when mail is on */
  mailUser?: RawKey;
};

export interface ReadOptions {
  /** MailActive: a `#SBATCH --mail-user` that is not an address refuses the job only then */
  mailActive?: boolean;
}

/** sbatch's own words for a script without `#!`. */
export const NOT_A_BATCH_SCRIPT = 'This does not look like a batch script. The first line must start with #! followed by the path to an interpreter.';

export async function readDescriptor(dir: string, jobFile: string, opts: ReadOptions = {}): Promise<Descriptor> {
  const read = await readInside(dir, jobFile, 'descriptor');
  if (read === undefined) return readShellMode(dir, jobFile, opts);
  const format = /\.xml$/i.test(jobFile) ? 'xml' : 'cfg';
  const keys = format === 'xml' ? await xmlKeys(read.text, jobFile) : cfgKeys(read.text, jobFile);
  return build(keys, { format, file: jobFile, fileMtimeMs: read.mtimeMs, warnings: [], notices: [] }, opts);
}

/**
 * Seconds (> 0) in `text`: a bare number (of `bareUnit`), `MM:SS`, `HH:MM:SS`,
 * `D-HH`, `D-HH:MM` or `D-HH:MM:SS`. Throws a RangeError `"text": expected ...`.
 */
export function parseDuration(text: string, opts: { bareUnit: 's' | 'min' }): number {
  const seconds = durationSeconds(text.trim(), opts.bareUnit);
  if (seconds === undefined) throw new RangeError(`${JSON.stringify(text.trim())}: expected ${DURATION_FORMS[opts.bareUnit]}`);
  return seconds;
}

function durationSeconds(text: string, bareUnit: 's' | 'min'): number | undefined {
  const days = /^(\d+)-(.+)$/.exec(text);
  const clock = days ? days[2] : text;
  const parts = clock.split(':');
  const nums = parts.map(Number);
  let seconds = NaN;
  if (!days && /^(\d+(\.\d*)?|\.\d+)$/.test(clock)) {
    seconds = Number(clock) * (bareUnit === 'min' ? 60 : 1);
  } else if (parts.length <= 3 && parts.every((p) => /^\d+$/.test(p)) && nums.slice(1).every((n) => n < 60)) {
    if (days && nums[0] < 24) {
      const [hours, minutes = 0, secs = 0] = nums;
      seconds = Number(days[1]) * 86400 + hours * 3600 + minutes * 60 + secs;
    } else if (!days && nums.length >= 2) {
      const [hours, minutes, secs] = nums.length === 3 ? nums : [0, ...nums];
      seconds = hours * 3600 + minutes * 60 + secs;
    }
  }
  return seconds > 0 && Number.isFinite(seconds) ? seconds : undefined;
}

/**
 * The text of `dir/name` and its mtime (undefined if absent), refusing what
 * is not a plain file of the job folder. A descriptor must be text of at
 * most 1 MiB; a script is only read up to SCRIPT_HEAD_BYTES.
 */
async function readInside(dir: string, name: string, what: 'descriptor' | 'script head'): Promise<{ text: string; mtimeMs: number } | undefined> {
  const file = path.join(dir, name);
  const isDescriptor = what === 'descriptor';
  const limit = isDescriptor ? MAX_DESCRIPTOR_BYTES : SCRIPT_HEAD_BYTES;
  const fail = (reason: string) => new DescriptorError(`${name}: ${reason}`);
  // O_NONBLOCK: a FIFO planted as descriptor must not block the reader
  const flags = constants.O_RDONLY | constants.O_NONBLOCK;
  try {
    // O_NOFOLLOW: a plain file opens at once; a symbolic link (ELOOP) is followed only inside the folder
    const handle = await fs.open(file, flags | constants.O_NOFOLLOW).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ELOOP') throw err;
      const [root, target] = await Promise.all([fs.realpath(dir), fs.realpath(file)]);
      const relative = path.relative(root, target);
      const outside = relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
      if (outside) throw fail('is a symbolic link pointing outside the job folder');
      return fs.open(file, flags);
    });
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw fail('is a folder, expected a file');
      if (!info.isFile()) throw fail('is not a regular file');
      const buffer = Buffer.alloc(Math.min(info.size, limit) + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      if (isDescriptor && bytesRead > limit) throw fail('is larger than 1 MiB');
      const content = buffer.subarray(0, Math.min(bytesRead, limit));
      if (isDescriptor && content.includes(0)) throw fail('contains NUL bytes (not a text file)');
      return { text: content.toString('utf8'), mtimeMs: info.mtimeMs };
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof DescriptorError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw fail(code === 'EACCES' ? 'cannot be read (permission denied)' : `cannot be read (${code ?? error})`);
    // ENOENT although lstat finds it: a symbolic link to nowhere.
    if (await fs.lstat(file).then(() => true, () => false)) throw fail('is a broken symbolic link');
    return undefined;
  }
}

async function readShellMode(dir: string, jobFile: string, opts: ReadOptions): Promise<Descriptor> {
  const scripts = (await fs.readdir(dir, { withFileTypes: true }))
    .filter((e) => e.name.endsWith('.sh') && !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink()))
    .map((e) => e.name)
    .sort();
  const expected = `expected ${jobFile} (or one *.sh script)`;
  if (scripts.length === 0) throw new DescriptorError(`no descriptor: ${expected}`);
  if (scripts.length > 1) throw new DescriptorError(`no descriptor: ${expected}, found ${scripts.length}: ${scripts.join(', ')}`);
  const file = scripts[0];
  const read = await readInside(dir, file, 'script head');
  if (read === undefined) throw new DescriptorError(`${file}: vanished while being read`);
  const frame: Frame = { format: 'sh', file, fileMtimeMs: read.mtimeMs, interpreter: interpreterOf(read.text, file), warnings: [], notices: [] };
  return build(directiveKeys(read.text, frame), frame, opts);
}

/**
 * The `#!` line as the kernel reads it (what sbatch relies on): the
 * interpreter, then the rest of the line as one argument, if any.
 */
function interpreterOf(text: string, file: string): string[] {
  const first = /^\uFEFF?([^\r\n]*)/.exec(text)?.[1] ?? '';
  const m = /^#!\s*(\S+)\s*(.*?)\s*$/.exec(first);
  if (!m) throw new DescriptorError(`${file}: ${NOT_A_BATCH_SCRIPT}`);
  return m[2] ? [m[1]!, m[2]] : [m[1]!];
}

/** The command line that runs `file` by its `#!` line with `args`, for /bin/sh -c. */
function scriptCommand(interpreter: string[], file: string, args: string[]): string {
  return [...interpreter, `./${file}`, ...args].map(shellQuote).join(' ');
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** #SBATCH option -> descriptor key, or what else it sets. */
const SBATCH_OPTIONS = new Map([['-c', 'cpus_per_task'], ['--cpus-per-task', 'cpus_per_task'], ['-J', 'job_name'],
  ['--job-name', 'job_name'], ['-t', 'time'], ['--time', 'time'], ['--mail-user', 'mail_user'],
  ['--mail-type', 'mail_type'], ['--comment', 'info'], ['--dependency', 'dependency'], ['-d', 'dependency'],
  ['-a', 'array'], ['--array', 'array'], ['-o', 'output'], ['--output', 'output'], ['-e', 'error'], ['--error', 'error'],
  ['-N', 'nodes'], ['--nodes', 'nodes'], ['-n', 'ntasks'], ['--ntasks', 'ntasks'],
  ['--gres', 'resource'], ['--gpus', 'resource'], ['-G', 'resource'], ['--gpus-per-node', 'resource'], ['--gpus-per-task', 'resource'],
  ['--mem', 'resource'], ['--mem-per-cpu', 'resource'], ['--mem-per-gpu', 'resource'], ['-b', 'begin'], ['--begin', 'begin']]);
/** #SBATCH options without a value -> the descriptor key they set to 1. */
const SBATCH_FLAGS = new Map([['-H', 'hold'], ['--hold', 'hold']]);

/** `#QM key=value` and `#SBATCH` lines of the leading comment block, as raw keys. */
function directiveKeys(text: string, frame: Frame): RawKeys {
  const keys: RawKeys = new Map();
  for (const [index, rawLine] of text.replace(/^\uFEFF/, '').split(/\r?\n/).entries()) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (!line.startsWith('#')) break;
    const where = `${frame.file} line ${index + 1}`;
    const directive = /^#(QM|SBATCH)\s+(.*)$/.exec(line);
    if (directive?.[1] === 'SBATCH') sbatchOptions(directive[2], where, keys, frame);
    if (directive?.[1] !== 'QM') continue;
    const pair = /^([^=:]*?)\s*[=:]\s*(.*)$/.exec(directive[2]);
    const key = pair?.[1].toLowerCase();
    if (!pair || !key) throw new DescriptorError(`${where}: #QM ${directive[2]}: expected #QM key=value`);
    if (key === 'script') frame.warnings.push(`${where}: #QM script ignored: the script is ${frame.file}`);
    else keys.set(key, { value: pair[2], where, label: `#QM ${key}` });
  }
  return keys;
}

function sbatchOptions(text: string, where: string, keys: RawKeys, frame: Frame): void {
  // Shell-like words, quotes removed; a word starting with # begins a comment.
  const words = (text.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? []).map((w) => w.replace(/"([^"]*)"|'([^']*)'/g, '$1$2'));
  const end = words.findIndex((w) => w.startsWith('#'));
  if (end >= 0) words.length = end;
  while (words.length > 0) {
    const word = words.shift()!;
    const [, option, attached] = /^(--[^=]+)(?:=(.*))?$/.exec(word) ?? /^(-[A-Za-z])(.+)?$/.exec(word) ?? [];
    const flag = option && attached === undefined ? SBATCH_FLAGS.get(option) : undefined;
    if (flag) {
      keys.set(flag, { value: '1', where, label: `#SBATCH ${option}` });
      continue;
    }
    const target = option ? SBATCH_OPTIONS.get(option) : undefined;
    if (!target) {
      const long = option ? (SHORT_FORMS[option] ?? option) : word;
      // its value too, when it is the next word (`--partition short`)
      const value = attached ?? (option && !FLAG_OPTIONS.has(option) && words.length > 0 && !words[0].startsWith('-') ? words.shift() : undefined);
      frame.notices.push(`#SBATCH ${long}${value !== undefined ? `=${value}` : ''} ignored: ${ignoredReason(long)} (${where})`);
      continue;
    }
    const raw = { value: attached ?? words.shift() ?? '', where, label: `#SBATCH ${option}` };
    if (!raw.value) throw new DescriptorError(`${where}: ${raw.label}: missing value`);
    if (target === 'job_name') frame.jobName = raw.value;
    else if (target === 'time') setTime(raw, keys);
    else if (target === 'resource') sbatchResource(option!, raw, keys, frame.notices);
    else if (target === 'nodes') setNodes(raw, frame);
    else if (target === 'mail_user') frame.mailUser = raw;
    else keys.set(target, raw);
  }
}

/** Slurm's -t: a bare number is minutes; 0, UNLIMITED and INFINITE mean no limit. */
function setTime(raw: RawKey, keys: RawKeys): void {
  if (/^(0+|unlimited|infinite)$/i.test(raw.value)) {
    keys.delete('time_limit');
    return;
  }
  const seconds = check(raw, (text) => durationSeconds(text, 'min'), DURATION_FORMS.min);
  keys.set('time_limit', { ...raw, value: String(seconds) });
}

/** `--nodes=N` or `MIN-MAX`: the job runs on one host; above 1, with a notice. */
function setNodes(raw: RawKey, frame: Frame): void {
  const m = /^(\d+)(?:-(\d+))?$/.exec(raw.value.trim());
  if (!m) throw new DescriptorError(`${raw.where}: ${raw.label} = ${quote(raw.value)}: expected a number of nodes, or MIN-MAX`);
  if (Number(m[1]) > 1) frame.notices.push(`#SBATCH --nodes=${raw.value.trim()}: runs on one host (QM does not spread a job over hosts) (${raw.where})`);
}

function build(keys: RawKeys, frame: Frame, opts: ReadOptions): Descriptor {
  // An empty value counts as not given: the key takes its default.
  const given = (...names: string[]) => names.map((n) => keys.get(n)).find((raw) => raw && raw.value.trim() !== '');
  const args = check(given('args'), argList, 'a JSON list of strings, like ["a", "b c"]') ?? [];
  const dependency = check(given('dependency'), (text) => text, 'a dependency like afterok:A');
  mailUser(frame, keys, opts);
  frame.notices.push(...unknownKeyNotices(keys));
  return {
    format: frame.format,
    file: frame.file,
    fileMtimeMs: frame.fileMtimeMs,
    script: frame.interpreter ? scriptCommand(frame.interpreter, frame.file, args) : requiredScript(keys.get('script'), frame.file),
    ...resourcesOf(given, check),
    email: check(given('e_mail', 'e-mail'), emails, 'an e-mail address like me@example.org'),
    info: given('info')?.value.trim(),
    priority: check(given('priority'), integerIn(-MAX_PRIORITY, MAX_PRIORITY), `an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`) ?? 0,
    size: given('size')?.value.trim(),
    timeLimit: check(given('time_limit'), (text) => durationSeconds(text, 's'), DURATION_FORMS.s),
    after: check(given('after'), jobNames, 'job names separated by commas or spaces') ?? [],
    mailType: check(given('mail_type'), mailTypes, `mail types separated by commas (${MAIL_TYPES.join(', ')})`) ?? [],
    hold: check(given('hold'), yesNo, 'a boolean (1, 0, true, false, yes, no)') ?? false,
    begin: check(given('begin'), (text) => (parseBeginTime(text) === undefined ? undefined : text), BEGIN_FORMS),
    jobName: frame.jobName,
    array: check(given('array'), arraySpec, 'an array SPEC like 0-15, 1,3,5-7, 0-20:5 or 1-100%10'),
    args,
    dependency,
    output: given('output')?.value.trim(),
    error: given('error')?.value.trim(),
    notices: frame.notices,
    keys: Object.fromEntries([...keys].map(([key, raw]) => [key, raw.value])),
    warnings: frame.warnings,
  };
}

/** `#SBATCH --mail-user`: an address only matters when mail is on; a placeholder is a notice otherwise. */
function mailUser(frame: Frame, keys: RawKeys, opts: ReadOptions): void {
  const raw = frame.mailUser;
  if (!raw) return;
  if (opts.mailActive || emails(raw.value.trim()) !== undefined) {
    keys.set('e_mail', raw);
    return;
  }
  frame.notices.push(`#SBATCH --mail-user=${raw.value.trim()} is not a mail address; no mail is sent (MailActive is off) (${raw.where})`);
}

function arraySpec(text: string): ArraySpec | undefined {
  try {
    return parseArraySpec(text);
  } catch {
    return undefined;
  }
}

function argList(text: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

export function check<T>(raw: RawKey | undefined, parse: (text: string) => T | undefined, expected: string): T | undefined {
  if (!raw) return undefined;
  const value = parse(raw.value.trim());
  if (value === undefined) throw new DescriptorError(`${raw.where}: ${raw.label} = ${quote(raw.value)}: expected ${expected}`);
  return value;
}

function requiredScript(raw: RawKey | undefined, file: string): string {
  if (!raw) throw new DescriptorError(`${file}: script is missing: expected script = <command to run>`);
  return check(raw, (text) => text || undefined, 'the command to run')!;
}

const integerIn = (min: number, max: number) => (text: string) => {
  const value = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  return value >= min && value <= max ? value : undefined;
};

/** Words of `text` if every one passes `ok`. */
const wordsIf = (text: string, separators: RegExp, ok: (word: string) => boolean) => {
  const words = text.split(separators).filter(Boolean);
  return words.every(ok) ? words : undefined;
};

/** One or more addresses; no spaces or angle brackets, so no mail header can be injected. */
const emails = (text: string) => wordsIf(text, /[\s,;]+/, (w) => /^[^\s@<>()",;:]+@[^\s@<>()",;:]+$/.test(w))?.join(', ');
const jobNames = (text: string) => wordsIf(text, /[\s,]+/, (w) => !w.includes('/') && w !== '.' && w !== '..');
const YES_NO: Record<string, boolean> = { 1: true, true: true, yes: true, on: true, 0: false, false: false, no: false, off: false };
const yesNo = (text: string) => YES_NO[text.toLowerCase()];
const mailTypes = (text: string) => wordsIf(text.toUpperCase(), /[\s,]+/, (w) => MAIL_TYPES.includes(w));

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}
