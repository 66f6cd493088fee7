/**
 * Producers in other languages, run as they are written in the README against the local stack
 * with the clients that are not part of this project: the Python example (boto3) and the shell
 * example (AWS CLI and jq), each a child process given `stack.cliEnvironment` — what
 * `npm start -- --serve` prints — and nothing else of Sluice's.
 *
 * python3 with boto3 is part of this machine: without it the Python tests skip loudly, and fail
 * on CI. The AWS CLI is not: without it (or jq) the shell test skips loudly, on CI too. The
 * Python example validates with the published JSON Schema when `jsonschema` is installed.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT, type LocalStack, startLocalStack } from '../../local/stack.js';
import { run, skipWithout, works } from '../support/tools.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON_EXAMPLE = `${REPO}examples/python/sluice_producer.py`;
const SHELL_EXAMPLE = `${REPO}examples/shell/sluice-producer.sh`;

let stack: LocalStack;
/** The environment of a client on another machine: PATH, HOME (PYTHONPATH), what --serve prints. */
let env: NodeJS.ProcessEnv;
const tools = { boto3: false, jsonschema: false, awsCli: false, jq: false };

beforeAll(async () => {
  [tools.boto3, tools.jsonschema, tools.awsCli, tools.jq] = await Promise.all([
    works('python3', ['-c', 'import boto3']),
    works('python3', ['-c', 'import jsonschema']),
    works('aws', ['--version']),
    works('jq', ['--version']),
  ]);
  stack = await startLocalStack({ start: true });
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...(process.env.PYTHONPATH === undefined ? {} : { PYTHONPATH: process.env.PYTHONPATH }),
    // No shared config or credentials files of this machine's user.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    ...stack.cliEnvironment,
  };
}, 60_000);
afterAll(async () => stack?.stop());

const BOTO3 = {
  install: 'python3 with boto3, e.g. apt-get install python3-boto3',
  required: Boolean(process.env.CI),
};

describe('the Python producer (examples/python/sluice_producer.py)', () => {
  it('submits a batch, reads the results and shows a rejection with its field and rule', async (context) => {
    if (!tools.boto3) return skipWithout(context, 'python3 with boto3', BOTO3);
    const { stdout } = await run('python3', [PYTHON_EXAMPLE, 'demo', '--prefix', 'py-demo'], {
      env,
      timeout: 60_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'py-demo-describe: succeeded after 1 attempt(s)',
        'py-demo-quotas: succeeded after 1 attempt(s)',
        'py-demo-terminate: rejected',
        `  call.operation (not-allowed): call.operation: ec2:TerminateInstances is not allowed for account ${LOCAL_ACCOUNT} (not-allowed)`,
      ]),
    );
    // The malformed request: refused by the JSON Schema before sending, or (without jsonschema)
    // sent and rejected by the dispatcher; either way its field and rule are named.
    if (tools.jsonschema) {
      expect(lines).toEqual(
        expect.arrayContaining([
          "py-demo-typo: not sent, the JSON Schema says: target.account: '1111' does not match '^[0-9]{12}$'",
          'sent 3 requests, 0 refused by SQS',
        ]),
      );
    } else {
      console.warn(
        '\n*** jsonschema is not installed: the Python example sent without validating ***\n',
      );
      expect(lines).toEqual(
        expect.arrayContaining([
          'sent 4 requests, 0 refused by SQS',
          'py-demo-typo: rejected',
          '  target.account (pattern): target.account: must be a 12-digit AWS account id (pattern)',
        ]),
      );
    }
  });

  it('prints a result as JSON, read from the requests table without any Sluice client', async (context) => {
    if (!tools.boto3) return skipWithout(context, 'python3 with boto3', BOTO3);
    await stack.client.submit({
      v: 1,
      id: 'py-result-1',
      target: { account: LOCAL_ACCOUNT, region: 'us-east-1' },
      call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
    });
    const { stdout } = await run(
      'python3',
      [PYTHON_EXAMPLE, 'result', 'py-result-1', '--wait', '30'],
      { env, timeout: 60_000 },
    );
    const stored = await stack.client.waitForResult('py-result-1', { timeoutMs: 1_000 });
    expect(JSON.parse(stdout)).toEqual(stored);
  });

  it("agrees with ajv and zod on the contract's examples (jsonschema)", async (context) => {
    if (!tools.boto3) return skipWithout(context, 'python3 with boto3', BOTO3);
    if (!tools.jsonschema)
      return skipWithout(context, "python3's jsonschema", {
        install: 'pip install jsonschema (optional: the example runs without it)',
        required: false,
      });
    const verdicts: Record<string, boolean> = {};
    for (const validity of ['valid', 'invalid']) {
      for (const file of readdirSync(`${REPO}schema/examples/request/${validity}`)) {
        const script = [
          'import json, sys',
          `sys.path.insert(0, ${JSON.stringify(`${REPO}examples/python`)})`,
          'import sluice_producer',
          `print(json.dumps(sluice_producer.schema_problems(json.load(open(${JSON.stringify(`${REPO}schema/examples/request/${validity}/${file}`)})))))`,
        ].join('\n');
        const { stdout } = await run('python3', ['-c', script], { env });
        verdicts[`${validity}/${file}`] = (JSON.parse(stdout) as string[]).length === 0;
      }
    }
    // What JSON Schema cannot express (depth, __proto__) passes here as it does in ajv.
    expect(verdicts).toEqual({
      'valid/every-field.json': true,
      'valid/minimal.json': true,
      'valid/reply-to-topic.json': true,
      'invalid/input-too-deep.json': true,
      'invalid/missing-id.json': false,
      'invalid/misspelt-field.json': false,
      'invalid/proto-key-in-input.json': true,
      'invalid/reply-to-queue-arn.json': false,
      'invalid/short-account.json': false,
    });
  });
});

describe('the shell producer (examples/shell/sluice-producer.sh)', () => {
  it('sends a request with aws sqs send-message and reads its result with aws dynamodb get-item', async (context) => {
    const cli = { install: 'the AWS CLI and jq; not part of this machine', required: false };
    if (!tools.awsCli) return skipWithout(context, 'the AWS CLI (aws)', cli);
    if (!tools.jq) return skipWithout(context, 'jq', cli);
    const { stdout } = await run(SHELL_EXAMPLE, ['sh-demo-1', LOCAL_ACCOUNT], {
      env,
      timeout: 90_000,
    });
    const [messageId, result] = stdout.trim().split('\n');
    expect(messageId).toMatch(/^[0-9a-f-]{36}$/);
    const stored = await stack.client.waitForResult('sh-demo-1', { timeoutMs: 1_000 });
    expect(JSON.parse(result ?? '')).toEqual(stored);
    expect(stored).toMatchObject({ status: 'succeeded', output: { Reservations: [] } });
  });
});
