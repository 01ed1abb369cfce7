/**
 * `qm submit -`: the job comes as a tar stream on stdin (`tar -c myjob | qm
 * submit -`), for a QM that runs where the job folder is not, e.g. in a
 * container: `tar -c myjob | docker compose exec -T ingest qm submit -`.
 * 1. Unpacks the stream with the system's `tar` into a private folder inside
 *    the QM folder (same filesystem, so the job moves in by rename), owned by
 *    whoever runs this command, whatever owner the archive recorded.
 * 2. Needs exactly one top-level entry: a job folder or a *.sh script; it is
 *    then submitted as `qm submit --move` would.
 * 3. Leaves nothing behind: the private folder is removed, whatever happens.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../core/settings-types.js';
import { layoutOf } from '../core/folders.js';
import { UserError } from './context.js';

/** Unpacks stdin, then runs `submitPath` on its one entry; removes what it unpacked. */
export async function submitFromStdin<T>(settings: Settings, submitPath: (entry: string) => Promise<T>): Promise<T> {
  if (process.stdin.isTTY) throw new UserError('qm submit - reads a tar stream on stdin: tar -c FOLDER | qm submit -', 2);
  const layout = layoutOf(settings.server.qmFolder);
  let dir: string;
  try {
    await fs.mkdir(layout.internal, { recursive: true });
    dir = await fs.mkdtemp(path.join(layout.internal, 'stdin-'));
  } catch (err) {
    throw new UserError(`cannot unpack the job into ${layout.internal}: ${(err as Error).message}`);
  }
  try {
    await untar(dir);
    const entries = (await fs.readdir(dir)).sort();
    if (entries.length !== 1) {
      throw new UserError(`qm submit -: the tar stream must hold one job folder or one *.sh script, it holds ${entries.length} entries${entries.length ? `: ${entries.slice(0, 5).join(', ')}` : ''}`);
    }
    return await submitPath(path.join(dir, entries[0]!));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** `tar -x` of stdin into `dir`; one clear error if the stream is not a tar archive. */
function untar(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-x', '-f', '-', '-C', dir, '--no-same-owner'], { stdio: ['inherit', 'ignore', 'pipe'] });
    let stderr = '';
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    tar.on('error', (err) => reject(new UserError(`qm submit -: cannot run tar: ${err.message}`)));
    tar.on('close', (code) => {
      const why = stderr.trim().split('\n').at(-1) ?? '';
      if (code === 0) resolve();
      else reject(new UserError(`qm submit -: stdin is not a tar stream QM can unpack (tar: ${why.replace(/^tar: /, '') || `exit ${code}`})`));
    });
  });
}
