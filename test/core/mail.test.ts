/** Which finished jobs get a mail (Slurm's --mail-type), and what it says. */
import { describe, expect, it } from 'vitest';
import { mailBody, mailSubject, wantsMail } from '../../src/core/mail.js';
import type { DoneRecord, Outcome } from '../../src/core/status.js';

const OUTCOMES: Record<string, Outcome> = {
  success: { kind: 'success', code: 0 },
  failed: { kind: 'failed', code: 2 },
  killed: { kind: 'killed', code: 143, by: 'me' },
  timedOut: { kind: 'timedOut', code: 143, limit: 60 },
  cancelled: { kind: 'cancelled', by: 'me' },
  dependencyFailed: { kind: 'dependencyFailed', dependency: 'prep' },
};

describe('wantsMail', () => {
  const mailed = (types: string[]) => Object.keys(OUTCOMES).filter((k) => wantsMail(OUTCOMES[k]!, types));

  it('mails every end by default, as QM 0.4 did, and for END or ALL', () => {
    for (const types of [[], ['END'], ['ALL'], ['BEGIN', 'END']]) expect(mailed(types)).toEqual(Object.keys(OUTCOMES));
  });
  it('FAIL: every end but a success', () => {
    expect(mailed(['FAIL'])).toEqual(['failed', 'killed', 'timedOut', 'cancelled', 'dependencyFailed']);
  });
  it('TIME_LIMIT and INVALID_DEPEND: only those ends; NONE and BEGIN alone: none', () => {
    expect(mailed(['TIME_LIMIT_80'])).toEqual(['timedOut']);
    expect(mailed(['INVALID_DEPEND'])).toEqual(['dependencyFailed']);
    expect(mailed(['NONE'])).toEqual([]);
    expect(mailed(['BEGIN'])).toEqual([]);
  });
});

describe('the mail', () => {
  const record: DoneRecord = {
    id: 'x1',
    name: 'test_QM',
    info: 'Test of the QM manager',
    email: 'me@example.org',
    nbProc: 4,
    priority: 0,
    worker: 'w1',
    host: 'node7',
    startedAt: Date.UTC(2026, 10, 24, 10, 0, 0),
    endedAt: Date.UTC(2026, 10, 24, 11, 2, 5),
    elapsed: 3725,
    cpu: 14000.5,
    folder: 'QM_dJobs/2026-11-24T11:02:05-test_QM',
    outcome: { kind: 'timedOut', code: 143, limit: 3600 },
  };

  it('subject names the job and how it ended', () => {
    expect(mailSubject(record)).toBe('QM Job - test_QM - timed out');
    expect(mailSubject({ ...record, outcome: OUTCOMES.success! })).toBe('QM Job - test_QM - finished');
    expect(mailSubject({ ...record, outcome: OUTCOMES.killed! })).toBe('QM Job - test_QM - cancelled');
  });

  it('body: outcome, exit code, elapsed and CPU time, done folder, info', () => {
    expect(mailBody(record, '/data/QM')).toBe(
      [
        'Job test_QM: timed out after 3600 s (code 143)',
        '',
        'exit code:    143',
        'elapsed:      1 h 02 min 05 s',
        'CPU time:     3 h 53 min 21 s',
        'started:      2026-11-24T10:00:00.000Z',
        'ended:        2026-11-24T11:02:05.000Z',
        'host:         node7 (worker w1)',
        'processors:   4',
        'done folder:  /data/QM/QM_dJobs/2026-11-24T11:02:05-test_QM',
        'info:         Test of the QM manager',
        '',
        '-- ',
        'QM batch queue manager',
        '',
      ].join('\n'),
    );
  });
});
