/**
 * What every command needs first: the settings (a bad config is one line and
 * exit 2), logging at the configured level, and where Redis is.
 */
import { existsSync } from 'node:fs';
import { loadSettings, ConfigError } from '../core/settings.js';
import type { Settings } from '../core/settings-types.js';
import { configureLogging } from '../core/log.js';
import { embeddedSocket, layoutOf } from '../core/folders.js';

/** A failure the user must fix: printed as one line, exit code `code`. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

export interface GlobalOptions {
  config?: string;
}

export function loadContext(opts: GlobalOptions): Settings {
  try {
    const settings = loadSettings({ configPath: opts.config, env: process.env });
    configureLogging(settings.server.debug);
    return settings;
  } catch (err) {
    if (err instanceof ConfigError) throw new UserError(err.message, 2);
    throw err;
  }
}

/** The Redis of a running QM: redis_url, or the embedded one's socket. */
export function clientRedisUrl(settings: Settings): string {
  if (settings.server.redisUrl) return settings.server.redisUrl;
  const socket = embeddedSocket(layoutOf(settings.server.qmFolder).internal);
  if (!existsSync(socket)) {
    throw new UserError(
      `QM is not running on ${settings.server.qmFolder} (no embedded Redis at ${socket}): start it with "qm start", or set redis_url`,
    );
  }
  return `unix://${socket}`;
}
