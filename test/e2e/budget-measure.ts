/**
 * Numbers the budget tests measure for the report (issue 3): printed
 * and kept in test-artifacts/budget-measurements.json. Never asserted on.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test-artifacts/budget-measurements.json');

export function recordMeasure(what: string, values: Record<string, unknown>): void {
  console.log(`[measure] ${what}: ${JSON.stringify(values)}`);
  mkdirSync(path.dirname(FILE), { recursive: true });
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, unknown>;
  } catch {
    // first measure
  }
  all[what] = { ...values, at: new Date().toISOString() };
  writeFileSync(FILE, JSON.stringify(all, null, 2) + '\n');
}
