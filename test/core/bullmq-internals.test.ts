/** SPEC §12: QM works on BullMQ's own keys, so it refuses a BullMQ it was not tested with, in one line. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { TESTED_BULLMQ_VERSION, checkBullmqVersion } from '../../src/core/bullmq-internals.js';

describe('the BullMQ version', () => {
  it('is pinned exactly in package.json, to the version the internals were tested with', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.bullmq).toBe(TESTED_BULLMQ_VERSION);
    expect(() => checkBullmqVersion()).not.toThrow();
  });

  it('refuses another version in one line that says what to do', () => {
    expect(() => checkBullmqVersion('6.8.0')).toThrow(
      /^BullMQ 6\.8\.0 is installed, but this QM was tested with BullMQ 6\.7\.0 only \(it works on BullMQ's own keys\): run "npm ci"$/,
    );
  });
});
