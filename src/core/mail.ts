/**
 * The end-of-job mail (SPEC §3; QM 0.4's `MailActive`).
 * 1. Chooses whether a finished job gets a mail: `MailActive`, an address,
 *    and its Slurm `--mail-type` (none given: every end, as QM 0.4 did).
 * 2. Writes the subject (`QM Job - NAME - finished|failed|timed out|cancelled`)
 *    and the body from the done record.
 * 3. Sends it with nodemailer through `[Mail] smtp_url` (default
 *    smtp://localhost:25, where QM 0.4 sent it); a server that is down or
 *    refuses is logged, and never changes anything for the job.
 */
import path from 'node:path';
import type { Transporter } from 'nodemailer';
import type { Logger } from './log.js';
import type { Settings } from './settings-types.js';
import { describeOutcome, exitCodeOf, type DoneRecord, type Outcome } from './status.js';
import { formatSeconds } from './format.js';

const DEFAULT_SMTP_URL = 'smtp://localhost:25';

/** Does a job with this `--mail-type` list get a mail for this outcome? (Slurm's meanings) */
export function wantsMail(outcome: Outcome, mailType: string[]): boolean {
  const types = new Set(mailType.length > 0 ? mailType : ['END']);
  if (types.has('END') || types.has('ALL')) return true;
  const timeLimit = [...types].some((t) => t.startsWith('TIME_LIMIT'));
  switch (outcome.kind) {
    case 'success':
      return false;
    case 'timedOut':
      return types.has('FAIL') || timeLimit;
    case 'dependencyFailed':
      return types.has('FAIL') || types.has('INVALID_DEPEND');
    default:
      return types.has('FAIL');
  }
}

export function mailSubject(rec: DoneRecord): string {
  const word: Record<Outcome['kind'], string> = {
    success: 'finished',
    failed: 'failed',
    killed: 'cancelled',
    cancelled: 'cancelled',
    timedOut: 'timed out',
    outOfMemory: 'out of memory',
    dependencyFailed: 'failed',
    failedToSpawn: 'failed',
    lost: 'failed',
    unrecorded: 'finished',
  };
  return `QM Job - ${rec.name} - ${word[rec.outcome.kind]}`;
}

export function mailBody(rec: DoneRecord, qmFolder: string): string {
  const lines = [
    `Job ${rec.name}: ${describeOutcome(rec.outcome)}`,
    '',
    `exit code:    ${exitCodeOf(rec.outcome)}`,
    `elapsed:      ${rec.elapsed === undefined ? 'did not run' : formatSeconds(rec.elapsed)}`,
  ];
  if (rec.cpu !== undefined) lines.push(`CPU time:     ${formatSeconds(rec.cpu)}`);
  if (rec.startedAt !== undefined) lines.push(`started:      ${new Date(rec.startedAt).toISOString()}`);
  lines.push(`ended:        ${new Date(rec.endedAt).toISOString()}`);
  if (rec.host) lines.push(`host:         ${rec.host} (worker ${rec.worker ?? '?'})`);
  lines.push(`processors:   ${rec.nbProc}`);
  lines.push(`done folder:  ${path.join(qmFolder, rec.folder)}`);
  lines.push(`info:         ${rec.info ?? ''}`);
  return lines.join('\n') + '\n\n-- \nQM batch queue manager\n';
}

export class JobMailer {
  private transport: Promise<Transporter> | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  private constructor(
    private readonly settings: Settings,
    private readonly log: Logger,
  ) {}

  /** A mailer when `MailActive` is on, else undefined. */
  static create(settings: Settings, log: Logger): JobMailer | undefined {
    return settings.server.mailActive ? new JobMailer(settings, log) : undefined;
  }

  /** Sends the mail of a finished job if it wants one; never throws, never waits. */
  notify(rec: DoneRecord, mailType: string[]): void {
    if (!rec.email) return;
    if (!wantsMail(rec.outcome, mailType)) {
      this.log.debug({ job: rec.name }, `no mail: --mail-type ${mailType.join(',')}`);
      return;
    }
    const sending = this.send(rec, rec.email).finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  private async send(rec: DoneRecord, to: string): Promise<void> {
    try {
      const transport = await this.open();
      await transport.sendMail({
        from: this.settings.mail.from,
        to,
        subject: mailSubject(rec),
        text: mailBody(rec, this.settings.server.qmFolder),
      });
      this.log.info({ job: rec.name }, `mail sent to ${to}`);
    } catch (err) {
      this.log.warn({ job: rec.name }, `mail to ${to} not sent: ${(err as Error).message}`);
    }
  }

  private open(): Promise<Transporter> {
    // loaded on first use: processes that never mail do not pay for nodemailer
    this.transport ??= import('nodemailer').then(({ createTransport }) =>
      createTransport({
        url: this.settings.mail.smtpUrl || DEFAULT_SMTP_URL,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 30_000,
      }),
    );
    return this.transport;
  }

  /** Waits for the mails being sent (bounded by the SMTP timeouts). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (this.transport) (await this.transport).close();
  }
}
