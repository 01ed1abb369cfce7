#!/usr/bin/env node
/**
 * `qm`: a thin dispatcher (SPEC §6). Each command lives in src/commands and
 * is loaded only when run, so short commands (`qm submit`) start fast;
 * errors a user must fix are one line on stderr and a non-zero exit.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { UserError, loadContext, type GlobalOptions } from './commands/context.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command('qm')
  .version(`qm ${version}`, '-V, --version', 'print the version of QM')
  .description('QM: a batch queue manager. Drop job folders into QM_qJobs (or qm submit them); QM runs them under a processor budget.')
  .option('-c, --config <file>', 'QMserv.cfg to use (default: $QM_CONFIG, else ./QMserv.cfg)')
  .configureOutput({
    // one line, like every other error: `qm: unknown option '--x' (qm --help for usage)`
    outputError: (text, write) => write(`qm: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (qm --help for usage)\n`),
  })
  .exitOverride();

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
const context = () => loadContext(globals());
/** What the command asks `qm` to exit with. */
let exitCode = 0;

const collect = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('init [dir]')
  .description('write a commented QMserv.cfg and the QM folders in DIR (default: .)')
  .action(async (dir?: string) => (await import('./commands/init.js')).init(dir));

program
  .command('start')
  .description('run everything on this machine: ingest, worker, monitor, with an embedded Redis unless redis_url is set')
  .action(async () => (await import('./commands/serve.js')).serve(context(), { ingest: true, worker: true, monitor: true }));

program
  .command('ingest')
  .description('watch QM_qJobs and queue the jobs dropped there (needs redis_url)')
  .action(async () => (await import('./commands/serve.js')).serve(context(), { ingest: true, worker: false, monitor: false }));

program
  .command('worker')
  .description('run queued jobs under this worker\'s processor budget (needs redis_url)')
  .action(async () => (await import('./commands/serve.js')).serve(context(), { ingest: false, worker: true, monitor: false }));

program
  .command('submit [path] [args...]')
  .description('queue a job folder or a script with its arguments (copied; the original is not changed) and print its name; as sbatch; - reads the job as a tar stream on stdin')
  .option('--nb-proc <n>', 'processors the job uses (nb_proc)')
  .option('-n, --ntasks <n>', 'tasks, as sbatch -n: nb_proc = tasks × cpus per task')
  .option('--gpus <n>', 'GPUs the job uses (nb_gpu)')
  .option('--mem <size>', 'memory the job may use: 500M, 16G (a bare number is megabytes; 0 = all of the worker\'s)')
  .option('--priority <p>', 'priority: higher runs first (default 0)')
  .option('-J, --name <name>', 'the job\'s name (default: the folder or script name, or #SBATCH -J)')
  .option('-d, --after <name>', 'run only after job NAME has finished with code 0 (repeat, or NAME,NAME); or a Slurm dependency: afterany:A, afterok:A?afternotok:B, singleton...', collect)
  .option('--dependency <expr>', 'as sbatch --dependency (afterok, afterany, afternotok, after, singleton; "," all, "?" any)', collect)
  .option('-a, --array <spec>', 'a job array: 0-15, 1,3,5-7, 0-20:5, with %K at most K tasks at once')
  .option('--wrap <command>', 'the job is this command line (run by /bin/sh), as sbatch --wrap')
  .option('-t, --time <limit>', 'time limit as sbatch --time: minutes, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]; 0 = none')
  .option('-W, --wait', 'wait until the job ends and exit with its exit code')
  .option('--move', 'move the folder or script into QM_qJobs instead of copying it')
  .option('-H, --hold', 'queue it held: it does not start until qm release')
  .option('-b, --begin <time>', 'do not start it before TIME: now+60 (seconds), now+1hour, HH:MM, YYYY-MM-DDTHH:MM')
  .action(async (source: string | undefined, args: string[], opts) => {
    exitCode = await (await import('./commands/submit.js')).submit(context(), source, { ...opts, args });
  });

program
  .command('status')
  .description('queued jobs in run order, running jobs with progress, and the last finished ones')
  .option('--json', 'print JSON (format in the README, "Command reference")')
  .option('-a, --all', 'every queued job and every done record kept, not only the first/last ones')
  .option('-u, --user <user>', 'only the jobs of USER (repeat, or USER,USER)', collect)
  .option('--me', 'only my jobs')
  .option('-t, --state <state>', 'only jobs in STATE: queued (every waiting job), starting, after, held, begin, settling, running, done', collect)
  .option('-n, --name <name>', 'only the jobs named NAME (repeat, or NAME,NAME)', collect)
  .action(async (opts) => (await import('./commands/status.js')).status(context(), opts));

program
  .command('show <name>')
  .description('everything about a job (like scontrol show job)')
  .option('--json', 'print JSON')
  .action(async (name: string, opts) => (await import('./commands/show.js')).show(context(), name, opts));

program
  .command('wait <names...>')
  .description('wait until the jobs have ended; exit with the highest of their exit codes')
  .action(async (names: string[]) => {
    exitCode = await (await import('./commands/wait.js')).waitFor(context(), names);
  });

program
  .command('hold <names...>')
  .description('hold queued jobs: they do not start until qm release (like scontrol hold)')
  .action(async (names: string[]) => {
    exitCode = await (await import('./commands/operations.js')).eachName(context(), 'hold', names);
  });

program
  .command('release <names...>')
  .description('release held jobs (like scontrol release)')
  .action(async (names: string[]) => {
    exitCode = await (await import('./commands/operations.js')).eachName(context(), 'release', names);
  });

program
  .command('requeue <names...>')
  .description('queue finished (or lost) jobs again as a new run, from a copy of their latest folder; the old folder stays')
  .action(async (names: string[]) => {
    exitCode = await (await import('./commands/operations.js')).eachName(context(), 'requeue', names);
  });

program
  .command('pause')
  .description('pause the queue: no worker starts a job until qm resume; running jobs go on')
  .action(async () => (await import('./commands/operations.js')).pauseOrResume(context(), 'pause'));

program
  .command('resume')
  .description('resume the queue after qm pause')
  .action(async () => (await import('./commands/operations.js')).pauseOrResume(context(), 'resume'));

program
  .command('completion <shell>')
  .description('print a completion script for bash or zsh: source <(qm completion bash)')
  .action(async (shell: string) =>
    (await import('./commands/completion.js')).completion(
      shell,
      program.commands.map((c) => ({ name: c.name(), options: c.options.flatMap((o) => [o.short, o.long].filter((w): w is string => Boolean(w))) })),
    ),
  );

program
  .command('logs <name>')
  .description('print the process.log of a running or finished job')
  .option('-f, --follow', 'keep printing until the job ends (waits for a queued job to start)')
  .option('-n, --lines <n>', 'print only the last N lines (then follow, with -f)')
  .action(async (name: string, opts) => (await import('./commands/logs.js')).logs(context(), name, opts));

program
  .command('cancel <names...>')
  .description('cancel queued jobs (moved to QM_dJobs as cancelled) and kill running ones, wherever they run')
  .action(async (names: string[]) => {
    exitCode = await (await import('./commands/cancel.js')).cancel(context(), names);
  });

program
  .command('stats')
  .description('per owner (e_mail): jobs, successes, total and mean elapsed and CPU time')
  .option('--json', 'print JSON')
  .action(async (opts) => (await import('./commands/stats.js')).stats(context(), opts));

program
  .command('health')
  .description('exit 0 when this host can work: QM folder writable, Redis answering (for container health checks)')
  .option('--worker', 'also require a live worker heartbeat from this host')
  .action(async (opts: { worker?: boolean }) => (await import('./commands/health.js')).health(context(), opts));

program
  .command('monitor')
  .description('serve the QM pages, Bull Board (/queues), the API and metrics on [WEB_QMserver] Host:The_Port')
  .action(async () => (await import('./commands/serve.js')).serve(context(), { ingest: false, worker: false, monitor: true }));

/** `qm submit`'s options, read from its definition: those taking a value (the word after them is theirs), and the flags. */
function submitOptions(): { valued: Set<string>; flags: Set<string> } {
  const submitCommand = program.commands.find((c) => c.name() === 'submit')!;
  const valued = new Set(['-c', '--config']);
  const flags = new Set(['-h', '--help']);
  for (const o of submitCommand.options) for (const name of [o.short, o.long]) if (name) (o.required || o.optional ? valued : flags).add(name);
  return { valued, flags };
}

/**
 * As with sbatch, the words after the script are the script's: from the
 * first one after it that is not an option of qm submit, `--` is put before
 * them so that none is read as an option of qm.
 */
function submitArgsApart(argv: string[]): string[] {
  const at = argv.indexOf('submit', 2);
  if (at < 0) return argv;
  const { valued, flags } = submitOptions();
  let seenPath = false;
  for (let i = at + 1; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return argv;
    const option = word.replace(/=.*$/, '');
    if (valued.has(option) || flags.has(option)) {
      if (valued.has(word)) i++;
      continue;
    }
    if (seenPath) return [...argv.slice(0, i), '--', ...argv.slice(i)];
    seenPath = true;
  }
  return argv;
}

async function main(): Promise<void> {
  try {
    await program.parseAsync(submitArgsApart(process.argv));
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
  process.exit(exitCode);
}

void main();
