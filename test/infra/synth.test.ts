/**
 * The real thing: `npx cdk synth` of the app in cdk.json, offline, with no credentials, bundling
 * the real dispatcher handler (functions/dispatcher/handler.ts) with esbuild.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME } from '../../infra/throttle-coordinator.js';
import { REPO } from './support.js';

const run = promisify(execFile);
const outdir = mkdtempSync(join(tmpdir(), 'sluice-synth-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** The environment minus anything that could hold AWS credentials or point at a profile. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('AWS_') && !key.startsWith('CDK_')) env[key] = value;
  }
  return {
    ...env,
    CDK_DISABLE_VERSION_CHECK: '1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // Point the SDK's credential and config files at nothing.
    AWS_SHARED_CREDENTIALS_FILE: join(outdir, 'no-credentials'),
    AWS_CONFIG_FILE: join(outdir, 'no-config'),
  };
}

describe('cdk synth (offline)', () => {
  it('synthesizes the coordinator and member-role templates with no credentials', async () => {
    const started = Date.now();
    const { stderr } = await run('npx', ['cdk', 'synth', '--quiet', '--output', outdir], {
      cwd: REPO,
      env: offlineEnv(),
      timeout: 120_000,
    }).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`cdk synth failed: ${error.stderr ?? error.message}`);
    });
    const seconds = (Date.now() - started) / 1000;

    expect(existsSync(join(outdir, 'Sluice.template.json'))).toBe(true);
    expect(existsSync(join(outdir, 'SluiceMemberRole-222222222222.template.json'))).toBe(true);
    const template = JSON.parse(readFileSync(join(outdir, 'Sluice.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string }>;
    };
    expect(Object.values(template.Resources).map((r) => r.Type)).toContain('AWS::Lambda::Function');

    // The bundle carries the handler and the deployment configuration beside it.
    const assets = readdirSync(outdir).filter((name) => name.startsWith('asset.'));
    const bundle = assets
      .map((name) => join(outdir, name))
      .find((dir) => existsSync(join(dir, 'index.mjs')));
    expect(bundle, `bundles: ${assets.join(', ')}`).toBeDefined();
    const shipped = JSON.parse(readFileSync(join(bundle as string, CONFIG_FILE_NAME), 'utf8'));
    const config = JSON.parse(readFileSync(join(REPO, 'infra/sluice.config.json'), 'utf8'));
    expect(shipped).toEqual(config);

    expect(stderr).not.toMatch(/notices|telemetry|newer version/i);
    // Warm synth takes a few seconds; the bound only catches a hang or a network wait.
    expect(seconds).toBeLessThan(90);
  }, 150_000);
});
