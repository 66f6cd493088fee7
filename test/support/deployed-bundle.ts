/**
 * The dispatcher as `cdk deploy` ships it, run as Lambda runs it: the Sluice app synthesized with
 * bundling (esbuild, locally), the function's properties read from the template and its code
 * found in the cloud assembly by the template's `Code.S3Key`, then one invocation at a time in a
 * child process of the runtime's Node (./lambda-runtime/invoke.mjs) with the template's
 * environment variables, those naming the stack's resources pointed at local ones.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { App, type CfnElement } from 'aws-cdk-lib';
import { AssetManifestArtifact } from 'aws-cdk-lib/cx-api';
import type { Context, SQSEvent } from 'aws-lambda';
import { buildSluiceApp } from '../../infra/sluice-app.js';
import type { DeploymentConfigInput } from '../../shared/config/deployment.js';
import { CDK_CONTEXT } from '../infra/support.js';
import { invocationDocument } from './sqs-events.js';

const run = promisify(execFile);

/** The properties of an `AWS::Lambda::Function` in the template that a run needs. */
export interface FunctionProperties {
  readonly Runtime: string;
  readonly Handler: string;
  readonly MemorySize: number;
  readonly Timeout: number;
  readonly Code: { readonly S3Key: unknown };
  readonly Environment: { readonly Variables: Readonly<Record<string, unknown>> };
}

/** The dispatcher function of a synthesized app. */
export interface DeployedFunction {
  /** Its properties in the template. */
  readonly properties: FunctionProperties;
  /** The bundle directory in the cloud assembly: what `cdk deploy` zips and uploads. */
  readonly assetDir: string;
  /** The cloud assembly's directory (temporary: the caller removes it). */
  readonly assemblyDir: string;
}

/**
 * Synthesizes the Sluice app with `config` into a new temporary directory, bundling the real
 * handler (functions/dispatcher/handler.ts), with cdk.json's context and the cdk-nag checks.
 */
export function synthesizeDispatcher(config: DeploymentConfigInput): DeployedFunction {
  const outdir = mkdtempSync(join(tmpdir(), 'sluice-bundle-'));
  const app = new App({ outdir, context: CDK_CONTEXT });
  const { coordinator } = buildSluiceApp(app, { config });
  const dispatcher = coordinator.coordinator.dispatcher.node.defaultChild as CfnElement;
  const logicalId = coordinator.getLogicalId(dispatcher);
  const assembly = app.synth();

  const stack = assembly.getStackByName(coordinator.stackName);
  const resource = (stack.template as { Resources: Record<string, { Properties: unknown }> })
    .Resources[logicalId];
  if (resource === undefined) throw new Error(`no ${logicalId} in ${stack.templateFile}`);
  const properties = resource.Properties as FunctionProperties;

  const manifests = stack.dependencies.filter(AssetManifestArtifact.isAssetManifestArtifact);
  const asset = manifests
    .flatMap((manifest) => Object.values(manifest.contents.files ?? {}))
    .find((file) =>
      Object.values(file.destinations).some((d) => d.objectKey === properties.Code.S3Key),
    );
  if (asset?.source.path === undefined) {
    throw new Error(`no file asset of ${logicalId} uploads ${String(properties.Code.S3Key)}`);
  }
  return {
    properties,
    assetDir: join(assembly.directory, asset.source.path),
    assemblyDir: assembly.directory,
  };
}

/**
 * The function's environment variables with local values for those the template sets from the
 * stack's resources (table names, queue URLs): `local` must give exactly those, so a variable
 * added to the construct cannot go unnoticed.
 */
export function localVariables(
  fn: DeployedFunction,
  local: Readonly<Record<string, string>>,
): Record<string, string> {
  const variables: Record<string, string> = {};
  const fromResources: string[] = [];
  for (const [name, value] of Object.entries(fn.properties.Environment.Variables)) {
    if (typeof value === 'string') {
      variables[name] = value;
    } else {
      fromResources.push(name);
      const given = local[name];
      if (given === undefined) {
        throw new Error(`${name} is set from the stack's resources: give it a local value`);
      }
      variables[name] = given;
    }
  }
  const extra = Object.keys(local).filter((name) => !fromResources.includes(name));
  if (extra.length > 0) {
    throw new Error(`not variables set from resources in the template: ${extra.join(', ')}`);
  }
  return variables;
}

/**
 * What one invocation gave: the handler's response and what the process printed — Lambda sends
 * both streams to the log stream. Powertools prints EMF documents and info lines to stdout,
 * warnings and errors to stderr (console.warn, console.error).
 */
export interface Invocation {
  readonly response: unknown;
  readonly stdout: string;
  readonly stderr: string;
}

const HARNESS = fileURLToPath(new URL('./lambda-runtime/invoke.mjs', import.meta.url));
const LOCALHOST_DNS = fileURLToPath(new URL('./lambda-runtime/localhost-dns.mjs', import.meta.url));

/**
 * Invokes the function once with `event` and `context` in a new process of `node`, as a cold
 * start: Lambda's runtime variables (handler, task root, runtime, function name, memory, log
 * group and stream), then `environment` (the function's variables, region, credentials and
 * where the local services are). The process is killed at the function's timeout; a handler
 * that throws fails the call with what it printed.
 */
export async function invokeDeployed(
  node: string,
  fn: DeployedFunction,
  environment: Readonly<Record<string, string>>,
  event: SQSEvent,
  context: Context,
): Promise<Invocation> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-invocation-'));
  const invocationFile = join(dir, 'invocation.json');
  const responseFile = join(dir, 'response.json');
  writeFileSync(invocationFile, JSON.stringify(invocationDocument(event, context)));
  const { properties } = fn;
  try {
    const { stdout, stderr } = await run(
      node,
      ['--import', LOCALHOST_DNS, HARNESS, invocationFile, responseFile],
      {
        cwd: fn.assetDir,
        // Nothing of this process's environment: only what Lambda and the test set.
        env: {
          // https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
          _HANDLER: properties.Handler,
          LAMBDA_TASK_ROOT: fn.assetDir,
          AWS_EXECUTION_ENV: `AWS_Lambda_${properties.Runtime}`,
          AWS_LAMBDA_FUNCTION_NAME: context.functionName,
          AWS_LAMBDA_FUNCTION_VERSION: context.functionVersion,
          AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(properties.MemorySize),
          AWS_LAMBDA_LOG_GROUP_NAME: context.logGroupName,
          AWS_LAMBDA_LOG_STREAM_NAME: context.logStreamName,
          TZ: ':UTC',
          // No shared AWS config or credentials files of the machine's user.
          AWS_CONFIG_FILE: join(dir, 'no-config'),
          AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-credentials'),
          ...environment,
        },
        timeout: properties.Timeout * 1000,
        maxBuffer: 64 * 1024 * 1024,
      },
    ).catch((error: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(
        `the invocation failed: ${error.message}\n${error.stderr ?? ''}\n${error.stdout ?? ''}`,
        { cause: error },
      );
    });
    return { response: JSON.parse(readFileSync(responseFile, 'utf8')), stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The version of a Node binary (`v24.22.3`). */
export async function nodeVersion(node: string): Promise<string> {
  const { stdout } = await run(node, ['--version']);
  return stdout.trim();
}
