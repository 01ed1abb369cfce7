/**
 * Issue 17 point 2: a QM folder QM's user may not write (a QM_DATA host
 * folder Docker made as root) is one line saying whose it is and what to run,
 * exit 2, instead of a bare EACCES.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runQm } from '../helpers/qm.js';

describe('a QM folder owned by another user', () => {
  const base = mkdtempSync(path.join(os.tmpdir(), 'qm-owner-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it.runIf(process.getuid?.() === 0)('says who owns it and what to run, exit 2', async () => {
    // as Docker leaves a bind-mount source it had to make: root's, 0755
    const data = path.join(base, 'data');
    chmodSync(base, 0o755);
    mkdirSync(data, { mode: 0o755 });
    const r = await runQm(['ingest'], { QM_FOLDER: data, QM_REDIS_URL: 'redis://127.0.0.1:1', HOME: base }, base, { uid: 4243, gid: 4243 });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `qm: QM_FOLDER ${data} is not usable: EACCES: permission denied, mkdir '${data}/QM_qJobs' ` +
        `(${data} belongs to uid 0, QM runs as uid 4243: run "chown 4243:4243 ${data}" as root)\n`,
    );
  });
});
