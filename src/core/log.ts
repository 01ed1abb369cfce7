/**
 * One logger for every role: one line per event, with the job name first
 * when there is one (`test_QM: started`). `Debug = True` lowers the level to
 * debug. QM_LOG_FORMAT=json prints pino's JSON lines instead (for log shippers).
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

let root: Logger = makeLogger(false);

function makeLogger(debug: boolean): Logger {
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
  root = makeLogger(debug);
}

/**
 * A logger for one role (`ingest`, `worker`, `monitor`, `redis`, `qm`). Ask
 * for it when a role starts (after configureLogging), not at import time.
 */
export function logger(role: string): Logger {
  return root.child({ role });
}
