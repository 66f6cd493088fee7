/**
 * `sluice result <id>`: print a request's result record as JSON, or wait for it. Needs DynamoDB
 * only.
 */
import type { Command } from 'commander';
import { type SluiceResult, SluiceResultReader } from '../shared/client/index.js';
import { ENV } from '../shared/config/environment.js';
import { EXIT_CODES, EXIT_HELP } from './exit-codes.js';
import {
  type AwsFlags,
  type CommandContext,
  dynamoClientFor,
  ENV_HELP,
  PRODUCER_ENV,
  parseSeconds,
  resolveProducer,
  resolveRequestsTable,
  s3ClientFor,
} from './settings.js';

interface ResultOptions extends AwsFlags {
  wait?: boolean;
  timeout: number;
  requestsTable?: string;
  producer?: string;
}

/** How to read a result without this CLI or the producer client, for `--help`. */
export const RESULT_WITHOUT_CLIENT_HELP = `
Without this CLI (any language, any AWS SDK): a finished request's item in the requests table
(key {"id": {"S": "<producer>#<id>"}}, read with ConsistentRead; the producer is "default"
unless the deployment names producers) holds the result document as a JSON string in its
attribute "result"; before that, "status" says waiting or running. With the AWS CLI:
  aws dynamodb get-item --table-name "$${ENV.requestsTable}" --consistent-read \\
    --key '{"id": {"S": "default#hello-1"}}' --query Item.result.S --output text
Or have results pushed: name an SQS queue or SNS topic the deployment allows in the request's
replyTo (sluice submit --reply-to). The result's JSON Schema: schema/result.v1.json.
An output over 192 KiB is not in the result: "outputRef" names its S3 object (bucket, key,
bytes, sha256), e.g. aws s3 cp s3://<bucket>/<key> -`;

/** Adds `result` to the program. */
export function addResultCommand(program: Command, context: CommandContext): void {
  program
    .command('result')
    .summary('print the result of a request as JSON, or wait for it')
    .description(
      'Print the result record of a request as JSON on stdout, or wait for it with --wait. ' +
        'An output too large for the record is fetched from S3 (s3:GetObject on the outputs ' +
        'bucket) and printed in the result as "output". ' +
        'A request still in flight is reported on stderr, with exit code 3.',
    )
    .argument('<id>', 'the request id')
    .option('--wait', 'poll until the request finishes')
    .option('--timeout <seconds>', 'with --wait: give up after this long', parseSeconds, 60)
    .option('--requests-table <name>', `the requests table (default: $${ENV.requestsTable})`)
    .option(
      '--producer <name>',
      `the producer whose request it is (default: $${PRODUCER_ENV}, else default)`,
    )
    .option('--aws-region <region>', 'region of the table (default: $AWS_REGION)')
    .option(
      '--endpoint-url <url>',
      'DynamoDB endpoint (default: $AWS_ENDPOINT_URL_DYNAMODB or $AWS_ENDPOINT_URL)',
    )
    .addHelpText('after', `${EXIT_HELP}\n${ENV_HELP}\n${RESULT_WITHOUT_CLIENT_HELP}`)
    .action(async (id: string, options: ResultOptions) => {
      context.exit(await result(id, options, context));
    });
}

async function result(
  id: string,
  options: ResultOptions,
  context: CommandContext,
): Promise<number> {
  const requestsTableName = resolveRequestsTable(options.requestsTable, context.env);
  const producer = resolveProducer(options.producer, context.env);
  const dynamodb = await dynamoClientFor(options, context.env);
  const s3 = s3ClientFor(options, context.env);
  try {
    const reader = new SluiceResultReader({ dynamodb, requestsTableName, producer, s3 });
    let found: SluiceResult;
    if (options.wait) {
      found = await reader.waitForResult(id, { timeoutMs: options.timeout * 1000 });
    } else {
      const status = await reader.getResult(id);
      if (!status.result) {
        const attempts = status.attempts === undefined ? '' : ` (${status.attempts} attempts)`;
        const why =
          status.status === 'unknown'
            ? 'no record yet (not received yet, or expired)'
            : `${status.status}${attempts}, not finished yet`;
        context.err(`request ${id}: ${why}`);
        return EXIT_CODES.notYet;
      }
      found = status.result;
    }
    context.out(JSON.stringify(found));
    return found.status === 'succeeded' ? EXIT_CODES.ok : EXIT_CODES.unsuccessful;
  } finally {
    dynamodb.destroy();
    s3.destroy();
  }
}
