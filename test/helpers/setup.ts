/** Runs in every test file: whatever a failed test left running is stopped when its file ends. */
import { afterAll } from 'vitest';
import { killLeftoverQm } from './qm.js';

afterAll(() => killLeftoverQm());
