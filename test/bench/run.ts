/**
 * `npm run bench <name> [-- options]`: runs one benchmark by name. Each prints progress on
 * stderr and its figures as the last line of stdout.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('-worker.ts'))
  .map((f) => f.replace(/\.ts$/, ''));
const [name, ...rest] = process.argv.slice(2);
if (name === undefined || !existsSync(join(here, `${name}.ts`))) {
  console.error(`usage: npm run bench <name> [-- options]; benchmarks: ${available.join(', ')}`);
  process.exit(name === undefined ? 0 : 2);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`), ...rest], {
  stdio: 'inherit',
  env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
process.exit(result.status ?? 1);
