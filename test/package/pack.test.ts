/**
 * The package as a user gets it: `npm pack` (which builds first: `prepack`), then
 * `npm install --omit=dev` of the tarball into an empty folder — production dependencies only,
 * fetched from the registry unless npm's cache has them — then the `sluice` bin, the library's
 * entry point from an ESM script, and its declarations from a TypeScript consumer. Everything
 * happens in a temporary folder that is removed afterwards (the build itself refreshes `dist/`).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const run = promisify(execFile);
const options = { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 } as const;

let work: string;
let app: string;
let packed: string[];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'sluice-pack-'));
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], {
    ...options,
    cwd: REPO,
  });
  const [{ filename, files }] = JSON.parse(pack.stdout) as [
    { filename: string; files: { path: string }[] },
  ];
  packed = files.map((file) => file.path);

  app = join(work, 'app');
  await mkdir(app);
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await run(
    'npm',
    ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(work, filename)],
    { ...options, cwd: app },
  );
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('packs the bin, the built CLI and the built library with its declarations, no sources', () => {
    expect(packed).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'bin/sluice.js',
        'dist/cli/sluice.js',
        'dist/lib/client/index.js',
        'dist/lib/client/index.d.ts',
      ]),
    );
    const sources = packed.filter((path) => !/^(bin|dist)\/|^[^/]+$/.test(path));
    expect(sources).toEqual([]);
    expect(packed.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  });
});

describe('the package installed with production dependencies only', () => {
  it('brings the runtime dependencies and no development tool', () => {
    const installed = (name: string) => existsSync(join(app, 'node_modules', name));
    for (const name of ['commander', 'zod', '@aws-sdk/client-sqs', '@aws-sdk/client-dynamodb']) {
      expect(installed(name), name).toBe(true);
    }
    for (const name of ['tsx', 'typescript', 'esbuild', 'vitest', '@aws-sdk/client-ec2']) {
      expect(installed(name), name).toBe(false);
    }
  });

  it('runs `npx sluice --help` and exits 0', async () => {
    const { stdout } = await run('npx', ['--no', '--', 'sluice', '--help'], {
      ...options,
      cwd: app,
    });
    expect(stdout).toMatch(/^Usage: sluice \[options\] \[command\]/);
    expect(stdout).toMatch(/Exit codes:/);
  });

  it('runs a command far enough to report a usage error with exit code 2', async () => {
    const env = { ...process.env, SLUICE_REQUESTS_TABLE: '' };
    const error = await run('npx', ['--no', '--', 'sluice', 'result', 'some-id'], {
      ...options,
      cwd: app,
      env,
    }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(error).toMatchObject({ code: 2 });
    expect((error as { stderr: string }).stderr).toBe(
      'error: no requests table: pass --requests-table or set SLUICE_REQUESTS_TABLE\n',
    );
  });

  it("serves the library to an ESM script: import { SluiceClient } from 'sluice'", async () => {
    await writeFile(
      join(app, 'check.mjs'),
      `import { ClientConfigurationError, SluiceClient, SluiceResultReader, SluiceSender } from 'sluice';
const isClass = (f) => typeof f === 'function' && /^class\\b/.test(Function.prototype.toString.call(f));
const client = new SluiceClient({ sqs: { send: async () => ({}) }, queueUrls: { normal: 'https://example.com/q' } });
const error = await client.getResult('some-id').catch((e) => e);
console.log(JSON.stringify({
  classes: [SluiceClient, SluiceSender, SluiceResultReader].map(isClass),
  error: error instanceof ClientConfigurationError ? error.message : String(error),
}));
`,
    );
    const { stdout } = await run('node', ['check.mjs'], { ...options, cwd: app });
    expect(JSON.parse(stdout)).toEqual({
      classes: [true, true, true],
      error: 'reading results needs a DynamoDB client (dynamodb) and requestsTableName',
    });
  });

  it('type-checks a TypeScript consumer against the published declarations', async () => {
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    await writeFile(
      join(app, 'consumer.ts'),
      `import { SQSClient } from '@aws-sdk/client-sqs';
import { type SluiceClient, type SluiceRequest, type SluiceResult, SluiceSender } from 'sluice';

const request: SluiceRequest = {
  v: 1,
  id: 'typed-1',
  target: { account: '123456789012', region: 'eu-west-1' },
  call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
};
const sender = new SluiceSender({ sqs: new SQSClient({}), queueUrls: { normal: 'https://example.com/q' } });

export async function send(): Promise<string> {
  return (await sender.submit(request)).messageId;
}

export async function statusOf(client: SluiceClient): Promise<SluiceResult['status']> {
  return (await client.waitForResult('typed-1', { timeoutMs: 1_000 })).status;
}

// The declarations are precise, not \`any\`: the contract version is the literal 1.
// @ts-expect-error
export const wrong: SluiceRequest = { ...request, v: 2 };
`,
    );
    const { stdout } = await run('node', [TSC, '-p', app], { ...options, cwd: app });
    expect(stdout).toBe('');
  });
});
