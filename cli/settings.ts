/**
 * Where the CLI's settings come from, and the one AWS client each command builds. Flags first,
 * then the environment the AWS SDK and the dispatcher already use (`SLUICE_*`, `AWS_REGION`,
 * `AWS_ENDPOINT_URL_<SERVICE>`), then the SDK's own configuration chain (profiles, SSO, roles).
 * The environment is passed in (tests inject it), so it is read here rather than left to the SDK,
 * which would read `process.env`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { InvalidArgumentError } from 'commander';
import { parseSqsQueueUrl } from '../shared/aws/sqs-url.js';
import { ENV } from '../shared/config/environment.js';
import {
  parseQueueUrls,
  QUEUE_URLS_VARIABLE,
  type QueueUrls,
} from '../shared/config/queue-urls.js';
import { DEFAULT_PRODUCER, PRODUCER_PATTERN, PRODUCER_RULE } from '../shared/contract/patterns.js';
import { usageError } from './exit-codes.js';

/** Environment variables, as the CLI reads them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Where the CLI reads and writes; `main` passes the process's. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Read for `--file -`. */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
  /** Settings (`SLUICE_*`, `AWS_REGION`, endpoints, credentials). @default process.env */
  readonly env?: Env;
}

/** What a command's action gets: the streams, the environment, and where its exit code goes. */
export interface CommandContext {
  readonly io: CliIo;
  readonly env: Env;
  /** Writes a line to stdout. */
  readonly out: (line: string) => void;
  /** Writes a line to stderr. */
  readonly err: (line: string) => void;
  /** Sets the exit code of the run. */
  readonly exit: (code: number) => void;
}

/** The flags that say how to reach AWS, on every command. */
export interface AwsFlags {
  readonly awsRegion?: string;
  readonly endpointUrl?: string;
}

/** One request queue URL for every priority, the alternative to `SLUICE_QUEUE_URLS`. */
export const SINGLE_QUEUE_ENV = 'SLUICE_QUEUE_URL';

/** The producer whose results `result` reads (its queue is the one the requests went to). */
export const PRODUCER_ENV = 'SLUICE_PRODUCER';

/** The environment variables as `--help` lists them. */
export const ENV_HELP = `
Environment:
  ${QUEUE_URLS_VARIABLE}      request queue URLs by priority, JSON: {"high":…,"normal":…,"low":…}
                         (normal required; a missing priority uses normal's queue)
  ${SINGLE_QUEUE_ENV}       one request queue URL for every priority
  ${ENV.requestsTable}  the requests table
  ${PRODUCER_ENV}        the producer whose results to read (default: default)
  AWS_REGION             region of the queues and the table (also read from an SQS queue URL)
  AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
                         endpoints, e.g. local emulators (the AWS SDK's own variables); S3 is
                         where outputs too large for a result are (\`result\` fetches them)
  Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID…, AWS_PROFILE, SSO, roles).`;

/** What a missing region costs the user: every place it may come from. */
const NO_REGION =
  'no AWS region: pass --aws-region or set AWS_REGION (AWS_DEFAULT_REGION and the region of ' +
  'your AWS profile also count)';

// Bounds a hung connection: a CLI in a script must end with exit code 4, not hang.
const REQUEST_HANDLER = { connectionTimeout: 5_000, requestTimeout: 30_000 } as const;

/**
 * The SQS client of `submit`. Its region: `--aws-region`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
 * the queue URL's, else the SDK's chain.
 * @throws {CliError} no region anywhere (usage), or a malformed endpoint.
 */
export async function sqsClientFor(
  flags: AwsFlags,
  env: Env,
  queueUrls: QueueUrls,
): Promise<SQSClient> {
  const endpoint = resolveEndpoint(flags.endpointUrl, env, 'SQS');
  const region = givenRegion(flags, env) ?? parseSqsQueueUrl(queueUrls.normal)?.region;
  const client = new SQSClient({
    ...awsConfig(region, env),
    // A custom endpoint (local emulator) must also serve the queue URLs, whose hosts (fauxqs's
    // `sqs.<region>.localhost`) may not resolve. SDK 3.1169 sends to the queue URL's host unless
    // `endpoint` is in the client config (an endpoint from AWS_ENDPOINT_URL_SQS alone is not
    // enough: tried, ENOTFOUND) or `useQueueUrlAsEndpoint` is false; set both to be safe.
    ...(endpoint === undefined ? {} : { endpoint, useQueueUrlAsEndpoint: false }),
  });
  if (region === undefined) await requireSdkRegion(client);
  return client;
}

/**
 * The DynamoDB client of `result`. Its region: `--aws-region`, `AWS_REGION`,
 * `AWS_DEFAULT_REGION`, else the SDK's chain.
 * @throws {CliError} no region anywhere (usage), or a malformed endpoint.
 */
export async function dynamoClientFor(flags: AwsFlags, env: Env): Promise<DynamoDBClient> {
  const endpoint = resolveEndpoint(flags.endpointUrl, env, 'DYNAMODB');
  const region = givenRegion(flags, env);
  const client = new DynamoDBClient({
    ...awsConfig(region, env),
    ...(endpoint === undefined ? {} : { endpoint }),
  });
  if (region === undefined) await requireSdkRegion(client);
  return client;
}

/**
 * The S3 client of `result`, for outputs stored in S3: the region of the table (`--aws-region`,
 * `AWS_REGION`, `AWS_DEFAULT_REGION`, else the SDK's chain). A custom endpoint
 * (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`: an emulator on an IP address) is addressed
 * path-style, the bucket in the path: a host name made of bucket and IP address resolves nowhere.
 */
export function s3ClientFor(flags: AwsFlags, env: Env): S3Client {
  const endpoint = resolveEndpoint(undefined, env, 'S3');
  return new S3Client({
    ...awsConfig(givenRegion(flags, env), env),
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
  });
}

/** Queue URLs from `--queue-url`, else `SLUICE_QUEUE_URLS` (JSON), else `SLUICE_QUEUE_URL`. */
export function resolveQueueUrls(flag: string | undefined, env: Env): QueueUrls {
  if (flag !== undefined) return { normal: checkUrl(flag, '--queue-url') };
  const json = nonEmpty(env[QUEUE_URLS_VARIABLE]);
  const single = nonEmpty(env[SINGLE_QUEUE_ENV]);
  if (json !== undefined && single !== undefined) {
    throw usageError(`set one of ${QUEUE_URLS_VARIABLE} and ${SINGLE_QUEUE_ENV}, not both`);
  }
  if (single !== undefined) return { normal: checkUrl(single, SINGLE_QUEUE_ENV) };
  if (json === undefined) {
    throw usageError(
      `no request queue: pass --queue-url or set ${QUEUE_URLS_VARIABLE} (JSON by priority) or ${SINGLE_QUEUE_ENV}`,
    );
  }
  const reading = parseQueueUrls(json, QUEUE_URLS_VARIABLE);
  if (!reading.ok) throw usageError(reading.problems.join('; '));
  const urls = reading.queueUrls;
  for (const [key, value] of Object.entries(urls)) checkUrl(value, `${QUEUE_URLS_VARIABLE}.${key}`);
  return urls;
}

/** The requests table from `--requests-table`, else `SLUICE_REQUESTS_TABLE`. */
export function resolveRequestsTable(flag: string | undefined, env: Env): string {
  const tableName = flag ?? nonEmpty(env[ENV.requestsTable]);
  if (tableName === undefined) {
    throw usageError(`no requests table: pass --requests-table or set ${ENV.requestsTable}`);
  }
  return tableName;
}

/** The producer from `--producer`, else `SLUICE_PRODUCER`, else `default`. */
export function resolveProducer(flag: string | undefined, env: Env): string {
  const producer = flag ?? nonEmpty(env[PRODUCER_ENV]) ?? DEFAULT_PRODUCER;
  if (!PRODUCER_PATTERN.test(producer)) {
    const source = flag === undefined ? PRODUCER_ENV : '--producer';
    throw usageError(`${source}: ${JSON.stringify(producer)} ${PRODUCER_RULE}`);
  }
  return producer;
}

/** Commander's parser of `--timeout`: seconds ≥ 0. */
export function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidArgumentError('must be a number of seconds ≥ 0, e.g. 60 or 0.5');
  }
  return seconds;
}

/** Commander's collector of a repeatable flag (`--tag`). */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The region the user gave: the flag, else `AWS_REGION`, else `AWS_DEFAULT_REGION`. */
function givenRegion(flags: AwsFlags, env: Env): string | undefined {
  return flags.awsRegion ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
}

/**
 * Asks the SDK's own region chain (the shared config file's profile, instance metadata), before
 * any request is made. The chain signals "none" by rejecting with a plain `Error` (no class to
 * tell it by), and resolving the region is all it does, so any rejection here means the client
 * has no usable region: a usage error that says where to put one, with the SDK's reason.
 */
async function requireSdkRegion(client: SQSClient | DynamoDBClient): Promise<void> {
  try {
    await client.config.region();
  } catch (error) {
    client.destroy();
    const reason = error instanceof Error ? error.message : String(error);
    throw usageError(`${NO_REGION}; the AWS SDK found none: ${reason}`, { cause: error });
  }
}

/**
 * An endpoint from the flag, else the SDK's `AWS_ENDPOINT_URL_<SERVICE>`, else
 * `AWS_ENDPOINT_URL`, in the SDK's own order.
 */
function resolveEndpoint(
  flag: string | undefined,
  env: Env,
  service: 'SQS' | 'DYNAMODB' | 'S3',
): string | undefined {
  if (flag !== undefined) return checkUrl(flag, '--endpoint-url');
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS === 'true') return undefined;
  const name = nonEmpty(env[`AWS_ENDPOINT_URL_${service}`])
    ? `AWS_ENDPOINT_URL_${service}`
    : nonEmpty(env.AWS_ENDPOINT_URL)
      ? 'AWS_ENDPOINT_URL'
      : undefined;
  return name === undefined ? undefined : checkUrl(env[name] as string, name);
}

function checkUrl(value: string, source: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw usageError(`${source}: ${JSON.stringify(value)} is not an http(s) URL`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/**
 * Region, credentials and timeouts for an SDK client. Credentials in the (injected) environment
 * are passed explicitly, as the SDK's own first source would take them; without them the SDK's
 * default chain runs (profiles, SSO, container and instance roles).
 */
function awsConfig(region: string | undefined, env: Env) {
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
  return {
    ...(region === undefined ? {} : { region }),
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(sessionToken === undefined ? {} : { sessionToken }),
          },
        }
      : {}),
    requestHandler: REQUEST_HANDLER,
  };
}
