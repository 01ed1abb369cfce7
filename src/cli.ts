#!/usr/bin/env node
/**
 * `qm`: a thin dispatcher (SPEC §6). Each command lives in src/commands;
 * errors a user must fix are one line on stderr and a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { UserError, loadContext, type GlobalOptions } from './commands/context.js';
import { serve } from './commands/serve.js';
import { init } from './commands/init.js';
import { health } from './commands/health.js';

const program = new Command('qm')
  .description('QM: a batch queue manager. Drop job folders into QM_qJobs; QM runs them under a processor budget.')
  .option('-c, --config <file>', 'QMserv.cfg to use (default: $QM_CONFIG, else ./QMserv.cfg)')
  .showHelpAfterError('(run "qm --help" for usage)')
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();

program
  .command('init [dir]')
  .description('write a commented QMserv.cfg and the QM folders in DIR (default: .)')
  .action((dir?: string) => init(dir));

program
  .command('start')
  .description('run everything on this machine: ingest, worker, monitor, with an embedded Redis unless redis_url is set')
  .action(() => serve(loadContext(globals()), { ingest: true, worker: true, monitor: true }));

program
  .command('ingest')
  .description('watch QM_qJobs and queue the jobs dropped there (needs redis_url)')
  .action(() => serve(loadContext(globals()), { ingest: true, worker: false, monitor: false }));

program
  .command('worker')
  .description('run queued jobs under this worker\'s processor budget (needs redis_url)')
  .action(() => serve(loadContext(globals()), { ingest: false, worker: true, monitor: false }));

program
  .command('health')
  .description('exit 0 when this host can work: QM folder writable, Redis answering (for container health checks)')
  .option('--worker', 'also require a live worker heartbeat from this host')
  .action((opts: { worker?: boolean }) => health(loadContext(globals()), opts));

program
  .command('monitor')
  .description('serve the QM pages, Bull Board (/queues), the API and metrics on [WEB_QMserver] Host:The_Port')
  .action(() => serve(loadContext(globals()), { ingest: false, worker: false, monitor: true }));

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its message; --help and --version are not errors
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    if (err instanceof UserError) {
      process.stderr.write(`qm: ${err.message}\n`);
      process.exit(err.code);
    }
    process.stderr.write(`qm: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
  process.exit(0);
}

void main();
