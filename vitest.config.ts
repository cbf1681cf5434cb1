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
    reporters: ['default'],
  },
});
