// Vitest configuration of the slow suite: the benches' smoke runs (test/slow/), kept out of the default `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/slow/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 200_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
