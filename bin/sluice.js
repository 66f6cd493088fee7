#!/usr/bin/env node
// The `sluice` command. Installed from the package, it runs the built CLI, dist/cli/sluice.js
// (`npm run build`, which `npm pack` runs first). In a checkout of the repository, where the
// TypeScript sources are, it runs them through tsx (a devDependency) instead: `npx sluice` works
// without a build and is never older than the code.
import { existsSync } from 'node:fs';

const source = new URL('../cli/bin.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/sluice.js');
}
