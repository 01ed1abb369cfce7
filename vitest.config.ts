import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // end-to-end files start real processes; two at a time fits a 2-core machine
    maxWorkers: 2,
    minWorkers: 1,
  },
});
