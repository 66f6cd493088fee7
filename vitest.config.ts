import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dynalite and DynamoDB Local are started once for the whole run (the JVM takes ~2-5 s).
    globalSetup: ['test/support/global-setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: the engine suites share the emulators, keep parallelism modest.
    maxWorkers: 2,
  },
});
