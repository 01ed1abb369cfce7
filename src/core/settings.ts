/**
 * Loads QMserv.cfg (SPEC §5) into typed `Settings`:
 * 1. finds the file (`configPath`, else $QM_CONFIG, else ./QMserv.cfg, which
 *    alone may be missing: then every key takes its default);
 * 2. reads each key of the KEYS table from its section (names matched
 *    case-insensitively), then lets its environment variable override it;
 * 3. validates every value, throwing a one-line `ConfigError` that names the
 *    file, line, section, key (or the variable), the value and the form expected.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getSection, IniSyntaxError, parseIni, type IniDoc } from './configparser.js';
import type { Settings } from './settings-types.js';
import { parseGpuIds, parseMemoryMb } from './resources.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadSettingsOptions {
  configPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const INVALID = Symbol('invalid');

/** Turns a raw (trimmed) value into a typed one, or INVALID. */
interface Parser<T> {
  expected: string;
  parse(raw: string, ctx: { baseDir: string }): T | typeof INVALID;
}

type Group = 'server' | 'web' | 'mail';

interface KeySpec {
  group: Group;
  field: string;
  section: string;
  key: string;
  env: string | undefined;
  /** Raw default, fed through the parser like a value from the file. */
  fallback: () => string;
  parser: Parser<unknown>;
}

const TRUE_WORDS = ['1', 'yes', 'true', 'on'];
const FALSE_WORDS = ['0', 'no', 'false', 'off'];

/** Python's `getboolean`: 1/yes/true/on and 0/no/false/off, any case; else undefined. */
export function parseBool(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

const MAX_CPU_ID = 65535;

/** "0-3,6" -> [0, 1, 2, 3, 6] (sorted, no duplicates); blank -> []. Throws on bad syntax. */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  if (text.trim() === '') return [];
  for (const item of text.split(',')) {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(item);
    const first = match ? Number(match[1]) : NaN;
    const last = match?.[2] !== undefined ? Number(match[2]) : first;
    if (!match || last < first || last > MAX_CPU_ID) {
      throw new Error(`bad CPU list ${JSON.stringify(text)}: expected a list like 0-3,6`);
    }
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

const integer = (min: number, max: number, expected: string): Parser<number> => ({
  expected,
  parse: (raw) => {
    const value = /^[+-]?\d+$/.test(raw) ? Number(raw) : NaN;
    return value >= min && value <= max ? value : INVALID;
  },
});

const decimal = (min: number, exclusive: boolean, expected: string): Parser<number> => ({
  expected,
  parse: (raw) => {
    const value = /^(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : NaN;
    return value > min || (!exclusive && value === min) ? value : INVALID;
  },
});

const oneOf = <T extends string>(...words: T[]): Parser<T> => ({
  expected: words.join(' or '),
  parse: (raw) => words.find((word) => word === raw.toLowerCase()) ?? INVALID,
});

const bool: Parser<boolean> = {
  expected: 'true or false (also yes/no, on/off, 1/0)',
  parse: (raw) => parseBool(raw) ?? INVALID,
};

const matching = (pattern: RegExp, expected: string): Parser<string> => ({
  expected,
  parse: (raw) => (pattern.test(raw) ? raw : INVALID),
});

const anyText = matching(/^/, 'any text');

const folder: Parser<string> = {
  expected: 'a folder path',
  parse: (raw, { baseDir }) => (raw ? path.resolve(baseDir, raw) : INVALID),
};

const nonEmpty = (expected: string) => matching(/./, expected);

/** Empty = embedded redis; src/core/redis.ts also takes unix:// and a bare socket path. */
const redisUrl: Parser<string> = {
  expected: 'empty, redis://[user:password@]host[:port][/db], rediss://..., unix:///socket or /socket',
  parse: (raw) => {
    if (raw === '' || /^(unix:\/\/)?\/./i.test(raw)) return raw;
    const url = /^rediss?:\/\//i.test(raw) && URL.canParse(raw) ? new URL(raw) : undefined;
    return url?.hostname && /^\/?\d*$/.test(url.pathname) ? raw : INVALID;
  },
};

const smtpUrl: Parser<string> = {
  expected: 'empty or an smtp:// or smtps:// URL',
  parse: (raw) => (raw === '' || (/^smtps?:\/\//i.test(raw) && URL.canParse(raw)) ? raw : INVALID),
};

const jobFileName = matching(/^[^/\\]+\.(cfg|xml)$/i, 'a file name ending in .cfg or .xml');
const atLeast0 = decimal(0, false, 'a number of seconds >= 0');
const moreThan0 = decimal(0, true, 'a number of seconds > 0');

const pinCpus: Parser<boolean | undefined> = {
  expected: 'true, false or auto',
  parse: (raw) => (raw.toLowerCase() === 'auto' ? undefined : parseBool(raw) ?? INVALID),
};

const cpuList: Parser<string> = {
  expected: 'a CPU list like 0-3,6 (or empty for all)',
  parse: (raw) => {
    try {
      parseCpuList(raw);
      return raw;
    } catch {
      return INVALID;
    }
  },
};

const gpuIds: Parser<string[] | undefined> = {
  expected: 'GPU ids like 0-3 or 0,2, none, or empty for the GPUs nvidia-smi lists',
  parse: (raw) => {
    if (raw === '') return undefined;
    try {
      return parseGpuIds(raw);
    } catch {
      return INVALID;
    }
  },
};

const memoryPool: Parser<number | undefined> = {
  expected: 'a size like 64G or 500M (a bare number is megabytes), or empty for the physical memory',
  parse: (raw) => {
    if (raw === '') return undefined;
    const mb = parseMemoryMb(raw);
    return mb !== undefined && mb > 0 ? mb : INVALID;
  },
};

function spec<G extends Group, F extends keyof Settings[G] & string>(
  group: G, field: F, section: string, key: string,
  parser: Parser<Settings[G][F]>, fallback: string | (() => string), env?: string,
): KeySpec {
  const lazy = typeof fallback === 'string' ? () => fallback : fallback;
  return { group, field, section, key, env, fallback: lazy, parser };
}

const S = 'QMServer';
const W = 'WEB_QMserver';
const M = 'Mail';

const KEYS: KeySpec[] = [
  spec('server', 'qmFolder', S, 'QM_FOLDER', folder, './QM', 'QM_FOLDER'),
  spec('server', 'maxNbProcessors', S, 'MaxNbProcessors', integer(1, Number.MAX_SAFE_INTEGER, 'an integer >= 1'),
    () => String(os.availableParallelism()), 'QM_MAX_NB_PROCESSORS'),
  spec('server', 'launchType', S, 'launch_type', oneOf('blocking', 'non-blocking'), 'non-blocking'),
  spec('server', 'jobFile', S, 'job_file', jobFileName, 'proc_config.cfg'),
  spec('server', 'mailActive', S, 'MailActive', bool, 'false'),
  spec('server', 'debug', S, 'Debug', bool, 'false'),
  spec('server', 'redisUrl', S, 'redis_url', redisUrl, '', 'QM_REDIS_URL'),
  spec('server', 'settleTime', S, 'settle_time', atLeast0, '2'),
  spec('server', 'watchMode', S, 'watch_mode', oneOf('events', 'polling'), 'events'),
  spec('server', 'pollInterval', S, 'poll_interval', moreThan0, '1'),
  spec('server', 'pinCpus', S, 'pin_cpus', pinCpus, 'auto', 'QM_PIN_CPUS'),
  spec('server', 'cpus', S, 'cpus', cpuList, '', 'QM_CPUS'),
  spec('server', 'gpus', S, 'gpus', gpuIds, '', 'QM_GPUS'),
  spec('server', 'memoryMb', S, 'memory', memoryPool, '', 'QM_MEMORY'),
  spec('server', 'killGrace', S, 'kill_grace', atLeast0, '10'),
  spec('server', 'onWorkerLoss', S, 'on_worker_loss', oneOf('lost+found', 'requeue'), 'lost+found'),
  spec('server', 'keepDone', S, 'keep_done', integer(0, Number.MAX_SAFE_INTEGER, 'an integer >= 0'), '10000'),
  spec('server', 'shutdown', S, 'shutdown', oneOf('wait', 'requeue'), 'wait'),
  spec('server', 'workerName', S, 'worker_name', nonEmpty('a non-empty name'),
    () => `${os.hostname()}:${process.pid}`, 'QM_WORKER_NAME'),
  spec('web', 'host', W, 'Host', nonEmpty('a host name or address'), 'localhost', 'QM_HOST'),
  spec('web', 'port', W, 'The_Port', integer(1, 65535, 'an integer from 1 to 65535'), '8000', 'QM_PORT'),
  spec('web', 'refreshRate', W, 'Refresh_Rate', moreThan0, '10'),
  spec('web', 'displayDetails', W, 'Display_details', bool, 'true'),
  spec('web', 'deleteJobs', W, 'Delete_Jobs', bool, 'false'),
  spec('web', 'licenceToKill', W, 'Licence_to_kill', bool, 'false'),
  spec('web', 'debug', W, 'Debug', bool, 'false'),
  spec('web', 'user', W, 'user', anyText, '', 'QM_WEB_USER'),
  spec('web', 'password', W, 'password', anyText, '', 'QM_WEB_PASSWORD'),
  spec('mail', 'smtpUrl', M, 'smtp_url', smtpUrl, '', 'QM_SMTP_URL'),
  spec('mail', 'from', M, 'from', nonEmpty('a sender address'), () => `QM <qm@${os.hostname()}>`),
];

export function loadSettings(opts: LoadSettingsOptions = {}): Settings {
  const env = opts.env ?? process.env;
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const given = opts.configPath ?? (env.QM_CONFIG || undefined);
  const shown = given ?? 'QMserv.cfg';
  const configPath = path.resolve(cwd, shown);

  const doc = readConfig(configPath, shown, given !== undefined);
  // A relative QM_FOLDER is relative to the config file; with no file, to cwd.
  const fileBase = doc ? path.dirname(configPath) : cwd;
  const groups: Record<Group, Record<string, unknown>> = { server: {}, web: {}, mail: {} };

  for (const key of KEYS) {
    const section = doc && getSection(doc, key.section);
    const name = key.key.toLowerCase();
    // An empty variable counts as unset (compose files often pass empty ones).
    const envValue = key.env ? env[key.env] : undefined;
    const [raw, where, baseDir] = envValue
      ? [envValue.trim(), `environment ${key.env}`, cwd]
      : section?.values.has(name)
        ? [section.values.get(name)!, `${shown} line ${section.lines.get(name)}: [${key.section}] ${key.key}`, fileBase]
        : [key.fallback(), `default [${key.section}] ${key.key}`, fileBase];
    const value = key.parser.parse(raw, { baseDir });
    if (value === INVALID) throw new ConfigError(`${where} = ${quote(raw)}: expected ${key.parser.expected}`);
    groups[key.group][key.field] = value;
  }

  return {
    configPath: doc ? configPath : undefined,
    server: groups.server as unknown as Settings['server'],
    web: groups.web as unknown as Settings['web'],
    mail: groups.mail as unknown as Settings['mail'],
  };
}

/** The parsed file, or undefined when the default ./QMserv.cfg does not exist. */
function readConfig(configPath: string, shown: string, explicit: boolean): IniDoc | undefined {
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !explicit) return undefined;
    const reason = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a folder' : (error as Error).message;
    throw new ConfigError(`config file ${configPath}: ${reason}`);
  }
  try {
    return parseIni(text, shown);
  } catch (error) {
    throw error instanceof IniSyntaxError ? new ConfigError(error.message) : error;
  }
}

function quote(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}
