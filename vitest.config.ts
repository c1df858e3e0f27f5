import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// Two tiers, one command (`npm test`):
//  - unit: pure specs beside the code (src/**/*.spec.ts), milliseconds each;
//  - integration: test/**/*.spec.ts against real Postgres (embedded, one migrated template
//    database, a fresh database per file), real redis-server and OpenSSH sshd, and the real app.
export default defineConfig({
  test: {
    globals: true,
    // Vitest's default in run mode is one worker fewer than the cores: one on this 2-core class,
    // though the integration files mostly wait on Postgres, sshd and Chromium. Two at least.
    maxWorkers: Math.max(2, availableParallelism()),
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.spec.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.spec.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
    ],
  },
});
