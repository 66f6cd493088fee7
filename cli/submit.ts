/**
 * `sluice submit`: validate requests (from flags or `--file`) and send them to the request queue
 * of their priority. Needs SQS only.
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import {
  type FailedBatchEntry,
  INVALID_REQUEST_CODE,
  type SentBatchEntry,
  SluiceSender,
} from '../shared/client/index.js';
import { QUEUE_URLS_VARIABLE } from '../shared/config/queue-urls.js';
import { describeProblems, type Problem, problem } from '../shared/contract/problems.js';
import { CONTRACT_VERSION, PRIORITIES } from '../shared/contract/request.js';
import { EXIT_CODES, EXIT_HELP, usageError } from './exit-codes.js';
import { type Item, parseRequests, readInput } from './read-requests.js';
import {
  type AwsFlags,
  type CommandContext,
  collect,
  ENV_HELP,
  resolveQueueUrls,
  SINGLE_QUEUE_ENV,
  sqsClientFor,
} from './settings.js';

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

interface SubmitOptions extends AwsFlags {
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

/** One output line: a request sent or not, at its input position. */
type Line = { index: number; sent?: SentBatchEntry; failed?: FailedBatchEntry };

/** Adds `submit` to the program. */
export function addSubmitCommand(program: Command, context: CommandContext): void {
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
    .option('--reply-to <url-or-arn>', 'SQS queue URL or SNS topic ARN to send the result to')
    .option('--tag <key=value>', 'a tag; repeat for more', collect, [] as string[])
    .option('--file <path>', 'read requests from a file, or - for stdin')
    .option('--json', 'print one JSON object per request')
    .option(
      '--queue-url <url>',
      `the request queue for every priority (default: $${QUEUE_URLS_VARIABLE} or $${SINGLE_QUEUE_ENV})`,
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
      context.exit(await submit(options, context));
    });
}

async function submit(options: SubmitOptions, context: CommandContext): Promise<number> {
  const { fromFlags, items } = await readItems(options, context);
  const queueUrls = resolveQueueUrls(options.queueUrl, context.env);
  const sqs = await sqsClientFor(options, context.env, queueUrls);
  let lines: Line[];
  try {
    const sender = new SluiceSender({ sqs, queueUrls });
    const readable = items.flatMap((item, index) => (item.ok ? [{ item, index }] : []));
    const outcome = await sender.submitBatch(readable.map(({ item }) => item.value));

    // Back to input positions: submitBatch numbered only the readable items.
    lines = [];
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
  } finally {
    sqs.destroy();
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
    context.out(formatLine(line, items[line.index]?.where, options.json === true));
  }

  const failures = lines.flatMap((line) => (line.failed ? [line.failed] : []));
  if (items.length > 1)
    context.err(`${lines.length - failures.length} sent, ${failures.length} failed`);
  if (failures.some((f) => f.code !== INVALID_REQUEST_CODE)) return EXIT_CODES.aws;
  return failures.length > 0 ? EXIT_CODES.usage : EXIT_CODES.ok;
}

/** The requests to send: from `--file`, or the one the request flags describe. */
async function readItems(
  options: SubmitOptions,
  context: CommandContext,
): Promise<{ fromFlags: boolean; items: Item[] }> {
  const given = REQUEST_FLAGS.filter(([key]) =>
    key === 'tag' ? options.tag.length > 0 : options[key] !== undefined,
  );
  if (options.file !== undefined) {
    if (given.length > 0) {
      const flags = given.map(([, flag]) => flag).join(', ');
      throw usageError(`--file cannot be combined with request flags (${flags})`);
    }
    return { fromFlags: false, items: parseRequests(await readInput(options.file, context.io)) };
  }
  if (given.length === 0) {
    throw usageError(
      'no request: give it with flags (--account, --region, --service, --operation, …) or with --file',
    );
  }
  return { fromFlags: true, items: [requestFromFlags(options)] };
}

/** `sent <id> <messageId>` / `failed <id or -> <reason>`, or the same as one JSON object. */
function formatLine(line: Line, where: string | undefined, json: boolean): string {
  if (line.sent) {
    const { id, messageId } = line.sent;
    return json
      ? JSON.stringify({ status: 'sent', index: line.index, id, messageId })
      : `sent ${id} ${messageId}`;
  }
  const { id, code, message, problems, senderFault } = line.failed as FailedBatchEntry;
  if (json) {
    return JSON.stringify({
      status: 'failed',
      index: line.index,
      ...(where === undefined ? {} : { where }),
      ...(id === undefined ? {} : { id }),
      code,
      message,
      ...(problems === undefined ? {} : { problems }),
      ...(senderFault === undefined ? {} : { senderFault }),
    });
  }
  const place = where === undefined ? '' : `${where}: `;
  const reason = code === INVALID_REQUEST_CODE ? '' : `${code}: `;
  return `failed ${id ?? '-'} ${place}${reason}${message}`;
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
