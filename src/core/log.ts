/**
 * One logger for every role: one line per event, with the job name first
 * when there is one (`test_QM: started`). `Debug = True` lowers the level to
 * debug. QM_LOG_FORMAT=json prints pino's JSON lines instead (for log shippers).
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

export type { Logger };

// pino and pino-pretty are loaded on first use: a short command that logs
// nothing (`qm submit`, `qm status`) does not pay for their ~60 files.
const require = createRequire(import.meta.url);
let debugLevel = false;
let root: Logger | undefined;

function makeLogger(debug: boolean): Logger {
  const { pino } = require('pino') as typeof import('pino');
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  const level = debug ? 'debug' : (process.env.QM_LOG_LEVEL ?? 'info');
  if (process.env.QM_LOG_FORMAT === 'json') return pino({ level });
  const stream = pretty({
    sync: true,
    colorize: false,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,role,job',
    messageFormat: '[{role}] {if job}{job}: {end}{msg}',
    destination: 2,
  });
  return pino({ level }, stream);
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
