// Vitest configuration of the browser suite (test/browser/, `npm run test:browser`): Playwright driving Debian's chromium against a real node serving the built console; one file at a time. With SCREENSHOTS=1 (`npm run screenshots`) it runs only test/browser/screenshots.ts, which refreshes the README's pictures.
import { defineConfig } from 'vitest/config';

const screenshots = process.env.SCREENSHOTS === '1';

export default defineConfig({
  test: {
    include: screenshots ? ['test/browser/screenshots.ts'] : ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
