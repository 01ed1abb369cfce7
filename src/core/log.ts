/**
 * One logger for every role: one line per event, with the job name first
 * when there is one (`test_QM: started`). `Debug = True` lowers the level to
 * debug. QM_LOG_FORMAT=json prints pino's JSON lines instead (for log shippers).
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

export type { Logger };

// pino is loaded on first use: a short command that logs nothing (`qm
// submit`, `qm status`) does not pay for its files.
const require = createRequire(import.meta.url);
let debugLevel = false;
let root: Logger | undefined;

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const two = (n: number) => String(n).padStart(2, '0');

/** `[2026-11-26 03:51:26.971] INFO: [ingest] j0001: queued ...`: local time, any other field as JSON. */
export function formatLine(entry: Record<string, unknown>): string {
  const { time, level, msg, role, job, pid: _pid, hostname: _host, ...rest } = entry;
  const t = new Date(typeof time === 'number' ? time : Date.now());
  const stamp =
    `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())} ` +
    `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${String(t.getMilliseconds()).padStart(3, '0')}`;
  const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
  const who = job === undefined ? '' : `${String(job)}: `;
  return `[${stamp}] ${LEVELS[Number(level)] ?? 'USERLVL'}: [${String(role ?? 'qm')}] ${who}${String(msg ?? '')}${extra}\n`;
}

function makeLogger(debug: boolean): Logger {
  const { pino } = require('pino') as typeof import('pino');
  const level = debug ? 'debug' : (process.env.QM_LOG_LEVEL ?? 'info');
  // synchronous: the last lines before a crash or an exit are not lost
  const out = pino.destination({ fd: 2, sync: true });
  if (process.env.QM_LOG_FORMAT === 'json') return pino({ level }, out);
  return pino({ level }, { write: (line: string) => out.write(formatLine(JSON.parse(line) as Record<string, unknown>)) });
}

/** Called once the settings are known. */
export function configureLogging(debug: boolean): void {
  debugLevel = debug;
  root = undefined;
}

/**
 * A logger for one role (`ingest`, `worker`, `monitor`, `redis`, `qm`). Ask
 * for it when a role starts (after configureLogging), not at import time.
 */
export function logger(role: string): Logger {
  root ??= makeLogger(debugLevel);
  return root.child({ role });
}

/**
 * `logger(role)` (with `level`, if given) made on first use: a short command
 * that logs nothing (`qm submit`, `qm status`) does not load pino at all.
 */
export function lazyLogger(role: string, level?: string): Logger {
  let real: Logger | undefined;
  const made = (): Logger => (real ??= level === undefined ? logger(role) : logger(role).child({}, { level }));
  return new Proxy({} as Logger, {
    get: (_target, prop) => {
      const value: unknown = Reflect.get(made(), prop);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(made()) : value;
    },
    set: (_target, prop, value) => Reflect.set(made(), prop, value),
  });
}
