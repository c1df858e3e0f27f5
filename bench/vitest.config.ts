import { defineConfig } from 'vitest/config';

// `npm run bench`: benchmarks that print figures; they assert only that the work was done.
export default defineConfig({
  test: {
    globals: true,
    root: new URL('..', import.meta.url).pathname,
    include: ['bench/**/*.bench.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
