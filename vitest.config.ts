// Vitest configuration: test files under test/ (the slow smoke runs of the benches are in test/slow/, run by
// `npm run test:slow` and .ci/run; the browser tests in test/browser/, run by `npm run test:browser` and .ci/run),
// services reached through DATABASE_URL / REDIS_URL.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/slow/**', 'test/browser/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    fileParallelism: true,
    maxWorkers: 3,
    // Test files share their worker process (modules, PGlite's template, the throw-away server key loaded once)
    // instead of a fresh process each: npm test took 214 s isolated and 138 s shared here, and a run with the files
    // shuffled (--sequence.shuffle.files) passed as well. So no test may count on module state being fresh, and
    // each closes what it opens (nodes, stores, sockets).
    isolate: false,
    reporters: ['default'],
  },
});
