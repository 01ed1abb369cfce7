/**
 * The `qm` command line (SPEC §6), as commander reads it: every command, its
 * options and its help. Each command lives in src/commands and is loaded only
 * when run; errors a user must fix are one line on stderr and a non-zero
 * exit. A plain `qm submit` does not come here (cli.ts, submit-argv.ts).
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { loadContext, type GlobalOptions } from './context.js';
import { SUBMIT_HELP, SUBMIT_OPTIONS, SUBMIT_USAGE } from './submit-options.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

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
  .action(async (dir?: string) => (await import('./init.js')).init(dir));

program
  .command('start')
  .description('run everything on this machine: ingest, worker, monitor, with an embedded Redis unless redis_url is set')
  .action(async () => (await import('./serve.js')).serve(context(), { ingest: true, worker: true, monitor: true }));

program
  .command('ingest')
  .description('watch QM_qJobs and queue the jobs dropped there (needs redis_url)')
  .action(async () => (await import('./serve.js')).serve(context(), { ingest: true, worker: false, monitor: false }));

program
  .command('worker')
  .description('run queued jobs under this worker\'s processor budget (needs redis_url)')
  .action(async () => (await import('./serve.js')).serve(context(), { ingest: false, worker: true, monitor: false }));

const submitCommand = program.command(SUBMIT_USAGE).description(SUBMIT_HELP);
for (const spec of SUBMIT_OPTIONS) {
  if (spec.repeat) submitCommand.option(spec.flags, spec.help, collect);
  else submitCommand.option(spec.flags, spec.help);
}
submitCommand.action(async (source: string | undefined, args: string[], opts) => {
  exitCode = await (await import('./submit.js')).submit(context(), source, { ...opts, args });
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
  .action(async (opts) => (await import('./status.js')).status(context(), opts));

program
  .command('show <name>')
  .description('everything about a job (like scontrol show job)')
  .option('--json', 'print JSON')
  .action(async (name: string, opts) => (await import('./show.js')).show(context(), name, opts));

program
  .command('wait <names...>')
  .description('wait until the jobs have ended; exit with the highest of their exit codes')
  .action(async (names: string[]) => {
    exitCode = await (await import('./wait.js')).waitFor(context(), names);
  });

program
  .command('hold <names...>')
  .description('hold queued jobs: they do not start until qm release (like scontrol hold)')
  .action(async (names: string[]) => {
    exitCode = await (await import('./operations.js')).eachName(context(), 'hold', names);
  });

program
  .command('release <names...>')
  .description('release held jobs (like scontrol release)')
  .action(async (names: string[]) => {
    exitCode = await (await import('./operations.js')).eachName(context(), 'release', names);
  });

program
  .command('requeue <names...>')
  .description('queue finished (or lost) jobs again as a new run, from a copy of their latest folder; the old folder stays')
  .action(async (names: string[]) => {
    exitCode = await (await import('./operations.js')).eachName(context(), 'requeue', names);
  });

program
  .command('pause')
  .description('pause the queue: no worker starts a job until qm resume; running jobs go on')
  .action(async () => (await import('./operations.js')).pauseOrResume(context(), 'pause'));

program
  .command('resume')
  .description('resume the queue after qm pause')
  .action(async () => (await import('./operations.js')).pauseOrResume(context(), 'resume'));

program
  .command('completion <shell>')
  .description('print a completion script for bash or zsh: source <(qm completion bash)')
  .action(async (shell: string) =>
    (await import('./completion.js')).completion(
      shell,
      program.commands.map((c) => ({ name: c.name(), options: c.options.flatMap((o) => [o.short, o.long].filter((w): w is string => Boolean(w))) })),
    ),
  );

program
  .command('logs <name>')
  .description('print the process.log of a running or finished job')
  .option('-f, --follow', 'keep printing until the job ends (waits for a queued job to start)')
  .option('-n, --lines <n>', 'print only the last N lines (then follow, with -f)')
  .action(async (name: string, opts) => (await import('./logs.js')).logs(context(), name, opts));

program
  .command('cancel <names...>')
  .description('cancel queued jobs (moved to QM_dJobs as cancelled) and kill running ones, wherever they run')
  .action(async (names: string[]) => {
    exitCode = await (await import('./cancel.js')).cancel(context(), names);
  });

program
  .command('stats')
  .description('per owner (e_mail): jobs, successes, total and mean elapsed and CPU time')
  .option('--json', 'print JSON')
  .action(async (opts) => (await import('./stats.js')).stats(context(), opts));

program
  .command('health')
  .description('exit 0 when this host can work: QM folder writable, Redis answering (for container health checks)')
  .option('--worker', 'also require a live worker heartbeat from this host')
  .action(async (opts: { worker?: boolean }) => (await import('./health.js')).health(context(), opts));

program
  .command('monitor')
  .description('serve the QM pages, Bull Board (/queues), the API and metrics on [WEB_QMserver] Host:The_Port')
  .action(async () => (await import('./serve.js')).serve(context(), { ingest: false, worker: false, monitor: true }));

/** `qm submit`'s options, read from its definition: those taking a value (the word after them is theirs), and the flags. */
function submitOptions(): { valued: Set<string>; flags: Set<string> } {
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

/** The command's exit code; a user's mistake commander found is printed by it (exit 2; 0 for --help and --version). */
export async function runProgram(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(submitArgsApart(argv));
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return exitCode;
}

/** The program, for the tests (to compare the fast path of `qm submit` with what commander reads). */
export { program };
