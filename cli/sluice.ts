/**
 * `sluice`: the command line of the producer client: submit requests, read results.
 *
 * All logic is behind {@link run}, which takes the arguments and its streams and environment and
 * returns the exit code, so tests drive it in-process. Nothing here reads `process` except
 * {@link main}. Settings come from flags, then from the environment the AWS SDK and the
 * dispatcher already use (`SLUICE_*`, `AWS_REGION`, `AWS_ENDPOINT_URL_<SERVICE>`).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { parseSqsQueueUrl } from '../shared/aws/sqs-url.js';
import {
  ClientConfigurationError,
  type FailedBatchEntry,
  INVALID_REQUEST_CODE,
  InvalidRequestError,
  MalformedResultError,
  ResultTimeoutError,
  type SentBatchEntry,
  SluiceClient,
} from '../shared/client/producer.js';
import { ENV } from '../shared/config/environment.js';
import { parseQueueUrls, type QueueUrls } from '../shared/config/queue-urls.js';
import { describeProblems, type Problem, problem } from '../shared/contract/problems.js';
import { CONTRACT_VERSION, PRIORITIES } from '../shared/contract/request.js';

/** Exit codes, for scripts. Listed in every `--help`. */
export const EXIT_CODES = {
  /** submit: every request sent; result: the request succeeded. */
  ok: 0,
  /** result: the request finished `failed` or `rejected`. */
  unsuccessful: 1,
  /** A bad flag or setting, or an invalid request (nothing about it was sent). */
  usage: 2,
  /** result: no result yet (unknown, waiting or running), or `--wait` timed out. */
  notYet: 3,
  /** AWS or connection error: SQS, DynamoDB, credentials, network, an unreadable stored record. */
  aws: 4,
} as const;

/** Where the CLI reads and writes; {@link main} passes the process's. */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  /** Read for `--file -`. */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
  /** Settings (`SLUICE_*`, `AWS_REGION`, endpoints, credentials). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const EXIT_HELP = `
Exit codes:
  0  success: every request sent (submit); the request succeeded (result)
  1  the request finished failed or rejected (result; its JSON is printed)
  2  usage or validation error: bad flag or setting, invalid request (not sent)
  3  no result yet: the request is unknown, waiting or running, or --wait timed out
  4  AWS or connection error (SQS, DynamoDB, credentials, network)`;

const ENV_HELP = `
Environment:
  ${ENV.queueUrls}      request queue URLs by priority, JSON: {"high":…,"normal":…,"low":…}
                         (normal required; a missing priority uses normal's queue)
  SLUICE_QUEUE_URL       one request queue URL for every priority
  ${ENV.requestsTable}  the requests table
  AWS_REGION             region of the queues and the table (also read from an SQS queue URL)
  AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL
                         endpoints, e.g. local emulators (the AWS SDK's own variables)
  Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID…, AWS_PROFILE, SSO, roles).`;

const SUBMIT_EXAMPLES = `
Examples:
  sluice submit --account 123456789012 --region eu-west-1 --service ec2 \\
    --operation DescribeInstances --input '{"MaxResults":50}' --tag team=web
  sluice submit --file requests.ndjson
  generate-requests | sluice submit --file - --json

Output: one line per request, in input order:
  sent <id> <messageId>
  failed <id or -> <reason>
With --json, one JSON object per line instead.`;

const SINGLE_QUEUE_ENV = 'SLUICE_QUEUE_URL';
// Bounds a hung connection: a CLI in a script must end with exit code 4, not hang.
const REQUEST_HANDLER = { connectionTimeout: 5_000, requestTimeout: 30_000 } as const;

/** A problem the CLI reports itself, with its exit code. */
class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

function usageError(message: string): CliError {
  return new CliError(EXIT_CODES.usage, message);
}

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code.
 * Never throws and never exits the process.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const err = (line: string) => io.stderr.write(`${line}\n`);
  let exitCode: number = EXIT_CODES.ok;

  const program = new Command('sluice')
    .description('Submit API-call requests to Sluice and read their results.')
    // Must come before the subcommands: they copy these settings when created.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `${EXIT_HELP}\n${ENV_HELP}`);

  program
    .command('submit')
    .summary('validate requests and send them to the queue of their priority')
    .description(
      'Validate requests and send them to the request queue of their priority. The request ' +
        'comes from flags, or from --file: one JSON request, a JSON array of requests, or ' +
        'NDJSON (one request per line). Invalid requests are reported and not sent; the ' +
        'others are still sent.',
    )
    .option('--id <id>', 'idempotency key (letters, digits, _ . : -) (default: a random UUID)')
    .option('--account <account>', 'target account: 12 digits')
    .option('--region <region>', 'target region, e.g. eu-west-1 (where the call runs)')
    .option('--service <service>', 'SDK service id, e.g. ec2, service-quotas')
    .option('--operation <operation>', 'operation name, e.g. RunInstances')
    .option('--input <json>', 'the SDK input as a JSON object (default: {})')
    .option('--priority <priority>', `one of ${PRIORITIES.join(', ')} (default: normal)`)
    .option('--max-attempts <n>', 'attempts allowed, 1-100 (default: 10)')
    .option('--deadline <date-time>', 'ISO 8601 with Z or offset, e.g. 2030-01-31T12:00:00Z')
    .option('--reply-to <url>', 'SQS queue URL to send the result to')
    .option('--tag <key=value>', 'a tag; repeat for more', collect, [] as string[])
    .option('--file <path>', 'read requests from a file, or - for stdin')
    .option('--json', 'print one JSON object per request')
    .option(
      '--queue-url <url>',
      `the request queue for every priority (default: $${ENV.queueUrls} or $${SINGLE_QUEUE_ENV})`,
    )
    .option(
      '--aws-region <region>',
      "region of the queues (default: $AWS_REGION, or the queue URL's)",
    )
    .option(
      '--endpoint-url <url>',
      'SQS endpoint (default: $AWS_ENDPOINT_URL_SQS or $AWS_ENDPOINT_URL)',
    )
    .addHelpText('after', `${SUBMIT_EXAMPLES}\n${EXIT_HELP}\n${ENV_HELP}`)
    .action(async (options: SubmitOptions) => {
      exitCode = await submitCommand(options, io, env, out, err);
    });

  program
    .command('result')
    .summary('print the result of a request as JSON, or wait for it')
    .description(
      'Print the result record of a request as JSON on stdout, or wait for it with --wait. ' +
        'A request still in flight is reported on stderr, with exit code 3.',
    )
    .argument('<id>', 'the request id')
    .option('--wait', 'poll until the request finishes')
    .option('--timeout <seconds>', 'with --wait: give up after this long', parseSeconds, 60)
    .option('--requests-table <name>', `the requests table (default: $${ENV.requestsTable})`)
    .option('--aws-region <region>', 'region of the table (default: $AWS_REGION)')
    .option(
      '--endpoint-url <url>',
      'DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB or $AWS_ENDPOINT_URL)',
    )
    .addHelpText('after', `${EXIT_HELP}\n${ENV_HELP}`)
    .action(async (id: string, options: ResultOptions) => {
      exitCode = await resultCommand(id, options, env, out, err);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return exitCodeOf(error, err);
  }
}

/** Runs the CLI on the process's arguments, streams and environment, and sets its exit code. */
export async function main(): Promise<void> {
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  });
}

function exitCodeOf(error: unknown, err: (line: string) => void): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message or the help. It exits 0 for help asked for
    // (`--help`, `help <command>`), 1 for help shown on error (no command): usage, for us.
    return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (error instanceof CliError) {
    err(`error: ${error.message}`);
    return error.exitCode;
  }
  if (error instanceof InvalidRequestError || error instanceof ClientConfigurationError) {
    err(`error: ${error.message}`);
    return EXIT_CODES.usage;
  }
  if (error instanceof ResultTimeoutError) {
    err(`error: ${error.message}`);
    return EXIT_CODES.notYet;
  }
  if (error instanceof MalformedResultError) {
    err(`error: ${error.message}`);
    return EXIT_CODES.aws;
  }
  const { name, message } =
    error instanceof Error ? error : { name: 'Error', message: String(error) };
  if (/region is missing/i.test(message)) {
    err('error: no AWS region: pass --aws-region or set AWS_REGION');
    return EXIT_CODES.usage;
  }
  err(`error: ${name}: ${message}`);
  return EXIT_CODES.aws;
}

// ---------------------------------------------------------------------------------------------
// submit

interface SubmitOptions {
  id?: string;
  account?: string;
  region?: string;
  service?: string;
  operation?: string;
  input?: string;
  priority?: string;
  maxAttempts?: string;
  deadline?: string;
  replyTo?: string;
  tag: string[];
  file?: string;
  json?: boolean;
  queueUrl?: string;
  awsRegion?: string;
  endpointUrl?: string;
}

/** Flags that build a request, and the field each one sets: how problems name the flag. */
const REQUEST_FLAGS = [
  ['id', '--id', 'id'],
  ['account', '--account', 'target.account'],
  ['region', '--region', 'target.region'],
  ['service', '--service', 'call.service'],
  ['operation', '--operation', 'call.operation'],
  ['input', '--input', 'call.input'],
  ['priority', '--priority', 'priority'],
  ['maxAttempts', '--max-attempts', 'maxAttempts'],
  ['deadline', '--deadline', 'deadline'],
  ['replyTo', '--reply-to', 'replyTo'],
  ['tag', '--tag', 'tags'],
] as const satisfies readonly (readonly [keyof SubmitOptions, string, string])[];

/** One request to submit, as read: a value to validate, or why it could not even be read. */
type Item =
  | { readonly ok: true; readonly value: unknown; readonly where?: string }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly where?: string };

async function submitCommand(
  options: SubmitOptions,
  io: CliIo,
  env: Readonly<Record<string, string | undefined>>,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const given = REQUEST_FLAGS.filter(([key]) =>
    key === 'tag' ? options.tag.length > 0 : options[key] !== undefined,
  );
  let items: Item[];
  let fromFlags = false;
  if (options.file !== undefined) {
    if (given.length > 0) {
      const flags = given.map(([, flag]) => flag).join(', ');
      throw usageError(`--file cannot be combined with request flags (${flags})`);
    }
    items = parseRequests(await readInput(options.file, io));
  } else if (given.length === 0) {
    throw usageError(
      'no request: give it with flags (--account, --region, --service, --operation, …) or with --file',
    );
  } else {
    fromFlags = true;
    items = [requestFromFlags(options)];
  }

  const queueUrls = resolveQueueUrls(options.queueUrl, env);
  const endpoint = resolveEndpoint(options.endpointUrl, '--endpoint-url', env, 'SQS');
  const region = options.awsRegion ?? env.AWS_REGION ?? parseSqsQueueUrl(queueUrls.normal)?.region;
  const sqs = new SQSClient({
    ...awsConfig(region, env),
    // A custom endpoint (local emulator) must also serve the queue URLs, whose hosts (fauxqs's
    // `sqs.<region>.localhost`) may not resolve. SDK 3.1169 sends to the queue URL's host unless
    // `endpoint` is in the client config (an endpoint from AWS_ENDPOINT_URL_SQS alone is not
    // enough: tried, ENOTFOUND) or `useQueueUrlAsEndpoint` is false; set both to be safe.
    ...(endpoint === undefined ? {} : { endpoint, useQueueUrlAsEndpoint: false }),
  });
  // submit needs no DynamoDB; the client wants one, and building it does no I/O.
  const dynamodb = new DynamoDBClient({ ...awsConfig(region, env) });
  try {
    const client = new SluiceClient({ sqs, dynamodb, queueUrls });
    const readable = items.flatMap((item, index) => (item.ok ? [{ item, index }] : []));
    const outcome = await client.submitBatch(readable.map(({ item }) => item.value));

    // Back to input positions: submitBatch numbered only the readable items.
    const lines: { index: number; sent?: SentBatchEntry; failed?: FailedBatchEntry }[] = [];
    for (const sent of outcome.sent) {
      const index = readable[sent.index]?.index ?? sent.index;
      lines.push({ index, sent: { ...sent, index } });
    }
    for (const failed of outcome.failed) {
      const index = readable[failed.index]?.index ?? failed.index;
      const problems =
        failed.problems && fromFlags ? failed.problems.map(nameFlag) : failed.problems;
      lines.push({
        index,
        failed: {
          ...failed,
          index,
          ...(problems ? { problems, message: describeProblems(problems, 20) } : {}),
        },
      });
    }
    items.forEach((item, index) => {
      if (!item.ok) {
        const message = describeProblems(item.problems, 20);
        lines.push({
          index,
          failed: { index, code: INVALID_REQUEST_CODE, message, problems: item.problems },
        });
      }
    });
    lines.sort((a, b) => a.index - b.index);

    for (const line of lines) {
      const where = items[line.index]?.where;
      if (line.sent) {
        const { id, messageId } = line.sent;
        out(
          options.json
            ? JSON.stringify({ status: 'sent', index: line.index, id, messageId })
            : `sent ${id} ${messageId}`,
        );
      } else if (line.failed) {
        const { id, code, message, problems, senderFault } = line.failed;
        out(
          options.json
            ? JSON.stringify({
                status: 'failed',
                index: line.index,
                ...(where === undefined ? {} : { where }),
                ...(id === undefined ? {} : { id }),
                code,
                message,
                ...(problems === undefined ? {} : { problems }),
                ...(senderFault === undefined ? {} : { senderFault }),
              })
            : `failed ${id ?? '-'} ${where === undefined ? '' : `${where}: `}${code === INVALID_REQUEST_CODE ? '' : `${code}: `}${message}`,
        );
      }
    }

    const failures = lines.flatMap((line) => (line.failed ? [line.failed] : []));
    if (items.length > 1) err(`${lines.length - failures.length} sent, ${failures.length} failed`);
    if (failures.some((f) => f.code !== INVALID_REQUEST_CODE)) return EXIT_CODES.aws;
    return failures.length > 0 ? EXIT_CODES.usage : EXIT_CODES.ok;
  } finally {
    sqs.destroy();
    dynamodb.destroy();
  }
}

/** Builds the request the flags describe; the contract's validation reports what is wrong. */
function requestFromFlags(options: SubmitOptions): Item {
  let input: unknown = {};
  if (options.input !== undefined) {
    try {
      input = JSON.parse(options.input);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return {
        ok: false,
        problems: [nameFlag(problem(['call', 'input'], 'json', `is not valid JSON: ${reason}`))],
      };
    }
  }
  const tags: Record<string, string> = {};
  for (const tag of options.tag) {
    const eq = tag.indexOf('=');
    if (eq <= 0) throw usageError(`--tag ${JSON.stringify(tag)}: must be key=value`);
    const key = tag.slice(0, eq);
    if (Object.hasOwn(tags, key)) throw usageError(`--tag ${key}: given more than once`);
    tags[key] = tag.slice(eq + 1);
  }
  const request: Record<string, unknown> = {
    v: CONTRACT_VERSION,
    id: options.id ?? randomUUID(),
    target: { account: options.account, region: options.region },
    call: { service: options.service, operation: options.operation, input },
  };
  if (options.priority !== undefined) request.priority = options.priority;
  if (options.maxAttempts !== undefined) {
    // A number when it reads as one; otherwise the text, which validation reports as `type`.
    const text = options.maxAttempts.trim();
    const number = Number(text);
    request.maxAttempts = text !== '' && Number.isFinite(number) ? number : options.maxAttempts;
  }
  if (options.deadline !== undefined) request.deadline = options.deadline;
  if (options.replyTo !== undefined) request.replyTo = options.replyTo;
  if (options.tag.length > 0) request.tags = tags;
  return { ok: true, value: request };
}

/** Adds the flag that sets a field to a problem's message: `target.account (--account): …`. */
function nameFlag(p: Problem): Problem {
  for (const [, flag, field] of REQUEST_FLAGS) {
    const matches =
      p.field === field || p.field.startsWith(`${field}.`) || p.field.startsWith(`${field}[`);
    if (matches && p.message.startsWith(`${p.field}:`)) {
      return { ...p, message: `${p.field} (${flag})${p.message.slice(p.field.length)}` };
    }
  }
  return p;
}

async function readInput(file: string, io: CliIo): Promise<string> {
  if (file === '-') {
    if (!io.stdin) throw usageError('--file -: no standard input to read');
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw usageError(`--file ${file}: cannot read it: ${(error as Error).message}`);
  }
}

/**
 * Reads one JSON request, a JSON array of requests, or NDJSON. A line of NDJSON that is not JSON
 * becomes a failed item (named by its line), so one bad line does not hold back the others.
 */
function parseRequests(raw: string): Item[] {
  const text = raw.replace(/^\uFEFF/, '');
  if (text.trim() === '') throw usageError('--file: no requests in the input');
  let whole: unknown;
  let isJson = true;
  try {
    whole = JSON.parse(text);
  } catch {
    isJson = false;
  }
  if (isJson) {
    if (!Array.isArray(whole)) return [{ ok: true, value: whole }];
    if (whole.length === 0) throw usageError('--file: the JSON array holds no requests');
    return whole.map((value, index) => ({ ok: true, value, where: `request ${index + 1}` }));
  }
  const items: Item[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `line ${index + 1}`;
    try {
      items.push({ ok: true, value: JSON.parse(line), where });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const text = `is not valid JSON (expected one request, a JSON array, or one request per line): ${reason}`;
      items.push({ ok: false, problems: [problem([], 'json', text)], where });
    }
  });
  return items;
}

// ---------------------------------------------------------------------------------------------
// result

interface ResultOptions {
  wait?: boolean;
  timeout: number;
  requestsTable?: string;
  awsRegion?: string;
  endpointUrl?: string;
}

async function resultCommand(
  id: string,
  options: ResultOptions,
  env: Readonly<Record<string, string | undefined>>,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const tableName = options.requestsTable ?? nonEmpty(env[ENV.requestsTable]);
  if (tableName === undefined) {
    throw usageError(`no requests table: pass --requests-table or set ${ENV.requestsTable}`);
  }
  const endpoint = resolveEndpoint(options.endpointUrl, '--endpoint-url', env, 'DYNAMODB');
  const region = options.awsRegion ?? env.AWS_REGION;
  const dynamodb = new DynamoDBClient({
    ...awsConfig(region, env),
    ...(endpoint === undefined ? {} : { endpoint }),
  });
  // result needs no SQS; the client wants one, and building it does no I/O.
  const sqs = new SQSClient({ ...awsConfig(region, env) });
  try {
    const client = new SluiceClient({ sqs, dynamodb, requestsTableName: tableName });
    let result: Awaited<ReturnType<SluiceClient['waitForResult']>>;
    if (options.wait) {
      result = await client.waitForResult(id, { timeoutMs: options.timeout * 1000 });
    } else {
      const status = await client.getResult(id);
      if (!status.result) {
        const attempts = status.attempts === undefined ? '' : ` (${status.attempts} attempts)`;
        const why =
          status.status === 'unknown'
            ? 'no record yet (not received yet, or expired)'
            : `${status.status}${attempts}, not finished yet`;
        err(`request ${id}: ${why}`);
        return EXIT_CODES.notYet;
      }
      result = status.result;
    }
    out(JSON.stringify(result));
    return result.status === 'succeeded' ? EXIT_CODES.ok : EXIT_CODES.unsuccessful;
  } finally {
    sqs.destroy();
    dynamodb.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// settings

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidArgumentError('must be a number of seconds ≥ 0, e.g. 60 or 0.5');
  }
  return seconds;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Queue URLs from `--queue-url`, else `SLUICE_QUEUE_URLS` (JSON), else `SLUICE_QUEUE_URL`. */
function resolveQueueUrls(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): QueueUrls {
  if (flag !== undefined) return { normal: checkUrl(flag, '--queue-url') };
  const json = nonEmpty(env[ENV.queueUrls]);
  const single = nonEmpty(env[SINGLE_QUEUE_ENV]);
  if (json !== undefined && single !== undefined) {
    throw usageError(`set one of ${ENV.queueUrls} and ${SINGLE_QUEUE_ENV}, not both`);
  }
  if (single !== undefined) return { normal: checkUrl(single, SINGLE_QUEUE_ENV) };
  if (json === undefined) {
    throw usageError(
      `no request queue: pass --queue-url or set ${ENV.queueUrls} (JSON by priority) or ${SINGLE_QUEUE_ENV}`,
    );
  }
  const reading = parseQueueUrls(json, ENV.queueUrls);
  if (!reading.ok) throw usageError(reading.problems.join('; '));
  const urls = reading.queueUrls;
  for (const [key, value] of Object.entries(urls)) checkUrl(value, `${ENV.queueUrls}.${key}`);
  return urls;
}

/**
 * An endpoint from the flag, else the SDK's `AWS_ENDPOINT_URL_<SERVICE>`, else
 * `AWS_ENDPOINT_URL`, in the SDK's own order. Read here rather than left to the SDK because the
 * environment is injected (the SDK would read `process.env`).
 */
function resolveEndpoint(
  flag: string | undefined,
  flagName: string,
  env: Readonly<Record<string, string | undefined>>,
  service: 'SQS' | 'DYNAMODB',
): string | undefined {
  if (flag !== undefined) return checkUrl(flag, flagName);
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

/**
 * Region, credentials and timeouts for an SDK client. Credentials in the (injected) environment
 * are passed explicitly, as the SDK's own first source would take them; without them the SDK's
 * default chain runs (profiles, SSO, container and instance roles).
 */
function awsConfig(region: string | undefined, env: Readonly<Record<string, string | undefined>>) {
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
