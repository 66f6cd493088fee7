/**
 * The `sluice` CLI, run in-process through `run(argv, io)` against fauxqs and dynalite, configured
 * the way a user would: `SLUICE_*` variables and the SDK's `AWS_ENDPOINT_URL_<SERVICE>`. The queue
 * URLs are fauxqs's (`sqs.us-east-1.localhost`, which does not resolve), so a passing submit also
 * shows the CLI sends to the configured endpoint, not to the queue URL's host.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EXIT_CODES } from '../../cli/exit-codes.js';
import { run } from '../../cli/main.js';
import { type RunningEmulator, startDynalite } from '../../local/emulators/dynalite.js';
import {
  type CreatedQueues,
  createQueues,
  sqsClient,
  startSqs,
} from '../../local/emulators/sqs.js';
import { failedResult, type SluiceResult, succeededResult } from '../../shared/contract/result.js';
import {
  REQUEST_ATTRIBUTES as A,
  REQUESTS_TABLE,
  requestKey,
} from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from '../support/engines.js';
import { receiveAll } from '../support/queues.js';

let sqsServer: RunningEmulator;
let dynamoServer: RunningEmulator;
let sqs: SQSClient;
let dynamodb: DynamoDBClient;
let tableName: string;
let queues: CreatedQueues;
let workDir: string;

beforeAll(async () => {
  [sqsServer, dynamoServer] = await Promise.all([startSqs(), startDynalite()]);
  sqs = sqsClient(sqsServer.endpoint);
  dynamodb = dynamoClient(dynamoServer.endpoint);
  tableName = await createTable(dynamodb, REQUESTS_TABLE, uniqueTableName('cli-requests'));
  queues = await createQueues(sqs, {
    prefix: 'cli',
    maxReceiveCount: 5,
    visibilityTimeoutSeconds: 30,
  });
  workDir = await mkdtemp(join(tmpdir(), 'sluice-cli-'));
});

afterAll(async () => {
  sqs?.destroy();
  dynamodb?.destroy();
  await Promise.all([sqsServer?.stop(), dynamoServer?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function env(): Record<string, string> {
  return {
    SLUICE_QUEUE_URLS: JSON.stringify(queues.queueUrls),
    SLUICE_REQUESTS_TABLE: tableName,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: sqsServer.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoServer.endpoint,
  };
}

/** Runs the CLI and captures what it printed. */
async function sluice(
  argv: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: options.env ?? env(),
  });
  return { code, stdout, stderr };
}

async function putResult(id: string, result: SluiceResult, producer = 'default'): Promise<void> {
  await dynamodb.send(
    new PutItemCommand({
      TableName: tableName,
      Item: {
        [A.id]: { S: requestKey(producer, id) },
        [A.status]: { S: result.status },
        [A.attempts]: { N: String(result.attempts) },
        [A.result]: { S: JSON.stringify(result) },
      },
    }),
  );
}

async function putWaiting(id: string): Promise<void> {
  await dynamodb.send(
    new PutItemCommand({
      TableName: tableName,
      Item: {
        [A.id]: { S: requestKey('default', id) },
        [A.status]: { S: 'waiting' },
        [A.attempts]: { N: '0' },
      },
    }),
  );
}

const requestFlags = [
  '--account',
  '123456789012',
  '--region',
  'eu-west-1',
  '--service',
  'ec2',
  '--operation',
  'DescribeInstances',
];

describe('sluice submit', () => {
  it('sends a request given by flags to the queue of its priority', async () => {
    const { code, stdout, stderr } = await sluice([
      'submit',
      '--id',
      'cli-flags-1',
      ...requestFlags,
      '--input',
      '{"MaxResults":5}',
      '--priority',
      'high',
      '--max-attempts',
      '3',
      '--tag',
      'team=web',
      '--tag',
      'ticket=OPS-1',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(EXIT_CODES.ok);
    const [line] = stdout.trim().split('\n');
    const [word, id, messageId] = line?.split(' ') ?? [];
    expect([word, id]).toEqual(['sent', 'cli-flags-1']);

    const [message] = await receiveAll(sqs, queues.queueUrls.high, 1);
    expect(message?.MessageId).toBe(messageId);
    expect(JSON.parse(message?.Body ?? 'null')).toEqual({
      v: 1,
      id: 'cli-flags-1',
      target: { account: '123456789012', region: 'eu-west-1' },
      call: { service: 'ec2', operation: 'DescribeInstances', input: { MaxResults: 5 } },
      priority: 'high',
      maxAttempts: 3,
      tags: { team: 'web', ticket: 'OPS-1' },
    });
  });

  it('generates an id when none is given', async () => {
    const { code, stdout } = await sluice([
      'submit',
      ...requestFlags,
      '--queue-url',
      queues.queueUrls.low,
    ]);
    expect(code).toBe(EXIT_CODES.ok);
    expect(stdout).toMatch(/^sent [0-9a-f-]{36} \S+\n$/);
    expect(await receiveAll(sqs, queues.queueUrls.low, 1)).toHaveLength(1);
  });

  it('sends NDJSON from stdin, reporting the invalid lines and sending the rest', async () => {
    const base = {
      v: 1,
      target: { account: '123456789012', region: 'eu-west-1' },
      call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
    };
    const ndjson = [
      JSON.stringify({ ...base, id: 'nd-1' }),
      '',
      JSON.stringify({ ...base, id: 'nd-2', priority: 'low' }),
      JSON.stringify({ ...base, id: 'nd-3', target: { account: 'x', region: 'eu-west-1' } }),
      '{not json',
      JSON.stringify({ ...base, id: 'nd-4' }),
    ].join('\n');
    const { code, stdout, stderr } = await sluice(['submit', '--file', '-'], { stdin: ndjson });

    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^sent nd-1 \S+$/);
    expect(lines[1]).toMatch(/^sent nd-2 \S+$/);
    expect(lines[2]).toMatch(/^failed nd-3 line 4: 1 problem: target\.account: .*\(pattern\)$/);
    expect(lines[3]).toMatch(/^failed - line 5: 1 problem: \(body\): is not valid JSON/);
    expect(lines[4]).toMatch(/^sent nd-4 \S+$/);
    expect(stderr).toBe('3 sent, 2 failed\n');
    expect(code).toBe(EXIT_CODES.usage);

    const normal = await receiveAll(sqs, queues.queueUrls.normal, 1);
    expect(normal.map((m) => JSON.parse(m.Body ?? '{}').id).sort()).toEqual(['nd-1', 'nd-4']);
    expect(await receiveAll(sqs, queues.queueUrls.low, 1)).toHaveLength(1);
  });

  it('reads a JSON array from a file and prints JSON lines with --json', async () => {
    const file = join(workDir, 'requests.json');
    const request = (id: string) => ({
      v: 1,
      id,
      target: { account: '123456789012', region: 'us-east-1' },
      call: { service: 'service-quotas', operation: 'ListServiceQuotas', input: {} },
    });
    await writeFile(file, JSON.stringify([request('arr-1'), request('arr-2')]));
    const { code, stdout } = await sluice(['submit', '--file', file, '--json']);
    expect(code).toBe(EXIT_CODES.ok);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      { status: 'sent', index: 0, id: 'arr-1', messageId: expect.any(String) },
      { status: 'sent', index: 1, id: 'arr-2', messageId: expect.any(String) },
    ]);
    expect(await receiveAll(sqs, queues.queueUrls.normal, 1)).toHaveLength(2);
  });

  it('exits 2 on a validation error, naming the flag, field and rule, and sends nothing', async () => {
    const { code, stdout } = await sluice([
      'submit',
      '--id',
      'cli-bad',
      ...requestFlags.slice(0, 2),
      '--region',
      'Europe',
      '--service',
      'ec2',
      '--operation',
      'DescribeInstances',
    ]);
    expect(code).toBe(EXIT_CODES.usage);
    expect(stdout).toMatch(
      /^failed cli-bad 1 problem: target\.region \(--region\): .* \(pattern\)\n$/,
    );
    expect(await receiveAll(sqs, queues.queueUrls.normal, 1)).toEqual([]);
  });

  it('exits 2 on bad usage: --input not JSON, bad --tag, no queue configured, unknown flag', async () => {
    const badInput = await sluice(['submit', ...requestFlags, '--input', '{oops']);
    expect(badInput.code).toBe(EXIT_CODES.usage);
    expect(badInput.stdout).toMatch(/call\.input \(--input\): is not valid JSON/);

    const badTag = await sluice(['submit', ...requestFlags, '--tag', 'novalue']);
    expect(badTag.code).toBe(EXIT_CODES.usage);
    expect(badTag.stderr).toMatch(/--tag "novalue": must be key=value/);

    const { SLUICE_QUEUE_URLS: _, ...withoutQueues } = env();
    const noQueue = await sluice(['submit', ...requestFlags], { env: withoutQueues });
    expect(noQueue.code).toBe(EXIT_CODES.usage);
    expect(noQueue.stderr).toMatch(/--queue-url.*SLUICE_QUEUE_URLS/);

    const unknown = await sluice(['submit', '--acount', '1']);
    expect(unknown.code).toBe(EXIT_CODES.usage);
    expect(unknown.stderr).toMatch(/unknown option '--acount'/);

    const both = await sluice(['submit', '--file', '-', '--account', '123456789012']);
    expect(both.code).toBe(EXIT_CODES.usage);
    expect(both.stderr).toMatch(/--file cannot be combined with request flags \(--account\)/);
  });

  it('exits 4 when SQS cannot be reached', async () => {
    const { code, stdout } = await sluice([
      'submit',
      ...requestFlags,
      '--endpoint-url',
      'http://127.0.0.1:9',
    ]);
    expect(code).toBe(EXIT_CODES.aws);
    expect(stdout).toMatch(/^failed \S+ \S+: /);
  });
});

describe('sluice result', () => {
  it('round trip: submit, then result --wait returns once the result is written', async () => {
    const submitted = await sluice(['submit', '--id', 'cli-round-1', ...requestFlags]);
    expect(submitted.code).toBe(EXIT_CODES.ok);
    await putWaiting('cli-round-1');

    const now = Date.now();
    const result = succeededResult(
      'cli-round-1',
      1,
      { Reservations: [] },
      {
        receivedAt: now,
        finishedAt: now + 10,
      },
    );
    const writer = new Promise<void>((resolve, reject) => {
      setTimeout(() => putResult('cli-round-1', result).then(resolve, reject), 400);
    });
    const { code, stdout, stderr } = await sluice([
      'result',
      'cli-round-1',
      '--wait',
      '--timeout',
      '10',
    ]);
    await writer;
    expect(stderr).toBe('');
    expect(code).toBe(EXIT_CODES.ok);
    expect(JSON.parse(stdout)).toEqual(result);
    await receiveAll(sqs, queues.queueUrls.normal, 1);
  });

  it('exits 1 for a failed result, still printing it', async () => {
    const now = Date.now();
    const result = failedResult(
      'cli-failed-1',
      2,
      { code: 'InvalidParameterValue', message: 'bad MaxResults' },
      { receivedAt: now, finishedAt: now },
    );
    await putResult('cli-failed-1', result);
    const { code, stdout } = await sluice(['result', 'cli-failed-1']);
    expect(code).toBe(EXIT_CODES.unsuccessful);
    expect(JSON.parse(stdout)).toEqual(result);
  });

  it('exits 3 when there is no result yet, and when --wait times out', async () => {
    const unknown = await sluice(['result', 'cli-nobody']);
    expect(unknown.code).toBe(EXIT_CODES.notYet);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/cli-nobody: no record yet/);

    await putWaiting('cli-slow-1');
    const started = Date.now();
    const timedOut = await sluice(['result', 'cli-slow-1', '--wait', '--timeout', '0.5']);
    expect(timedOut.code).toBe(EXIT_CODES.notYet);
    expect(timedOut.stderr).toMatch(
      /no result for request cli-slow-1 after 500 ms \(last status: waiting/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('exits 2 for a bad id, a bad --timeout or no table', async () => {
    expect((await sluice(['result', 'bad/id'])).code).toBe(EXIT_CODES.usage);
    const badTimeout = await sluice(['result', 'x', '--wait', '--timeout', 'soon']);
    expect(badTimeout.code).toBe(EXIT_CODES.usage);
    expect(badTimeout.stderr).toMatch(/--timeout/);
    const { SLUICE_REQUESTS_TABLE: _, ...withoutTable } = env();
    const noTable = await sluice(['result', 'x'], { env: withoutTable });
    expect(noTable.code).toBe(EXIT_CODES.usage);
    expect(noTable.stderr).toMatch(/--requests-table.*SLUICE_REQUESTS_TABLE/);
  });

  it("reads the producer's own record: --producer, else SLUICE_PRODUCER, else default", async () => {
    const now = Date.now();
    const timings = { receivedAt: now, finishedAt: now };
    await putResult(
      'shared-id-1',
      succeededResult('shared-id-1', 1, { who: 'web' }, timings),
      'web',
    );
    await putResult(
      'shared-id-1',
      failedResult('shared-id-1', 1, { code: 'X', message: 'd' }, timings),
    );
    const byFlag = await sluice(['result', 'shared-id-1', '--producer', 'web']);
    expect([byFlag.code, JSON.parse(byFlag.stdout).output]).toEqual([
      EXIT_CODES.ok,
      { who: 'web' },
    ]);
    const byEnv = await sluice(['result', 'shared-id-1'], {
      env: { ...env(), SLUICE_PRODUCER: 'web' },
    });
    expect(byEnv.code).toBe(EXIT_CODES.ok);
    expect((await sluice(['result', 'shared-id-1'])).code).toBe(EXIT_CODES.unsuccessful);
    const bad = await sluice(['result', 'shared-id-1', '--producer', 'Web#1']);
    expect(bad.code).toBe(EXIT_CODES.usage);
    expect(bad.stderr).toMatch(/--producer: "Web#1" must be 1 to 32 lowercase letters/);
  });

  it('exits 4 when the table does not exist', async () => {
    const { code, stderr } = await sluice(['result', 'x', '--requests-table', 'no-such-table']);
    expect(code).toBe(EXIT_CODES.aws);
    expect(stderr).toMatch(/ResourceNotFoundException/);
  });
});

describe('sluice and the AWS region', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** The SDK's own chain finds no region: none in the process, its config files, or EC2 metadata. */
  function withoutSdkRegion(configFile = join(workDir, 'no-such-aws-config')) {
    for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) {
      vi.stubEnv(name, undefined);
    }
    vi.stubEnv('AWS_CONFIG_FILE', configFile);
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(workDir, 'no-such-aws-credentials'));
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    const { AWS_REGION: _, ...settings } = env();
    return settings;
  }

  it('exits 2 naming where a region goes when there is none, before any request', async () => {
    const settings = withoutSdkRegion();
    const submitted = await sluice(['submit', '--id', 'cli-no-region', ...requestFlags], {
      env: settings,
    });
    const read = await sluice(['result', 'cli-no-region'], { env: settings });
    for (const { code, stdout, stderr } of [submitted, read]) {
      expect(code).toBe(EXIT_CODES.usage);
      expect(stdout).toBe('');
      expect(stderr).toMatch(
        /^error: no AWS region: pass --aws-region or set AWS_REGION \(AWS_DEFAULT_REGION and the region of your AWS profile also count\); the AWS SDK found none: /,
      );
    }
    expect(await receiveAll(sqs, queues.queueUrls.normal)).toEqual([]);
  });

  it('takes the region from AWS_DEFAULT_REGION, or from the AWS config file through the SDK', async () => {
    const settings = withoutSdkRegion();
    const fromDefault = await sluice(['result', 'cli-region-1'], {
      env: { ...settings, AWS_DEFAULT_REGION: 'us-east-1' },
    });
    expect(fromDefault.code).toBe(EXIT_CODES.notYet);
    expect(fromDefault.stderr).toBe(
      'request cli-region-1: no record yet (not received yet, or expired)\n',
    );

    const configFile = join(workDir, 'aws-config-with-region');
    await writeFile(configFile, '[default]\nregion = us-east-1\n');
    withoutSdkRegion(configFile);
    const fromProfile = await sluice(['submit', '--id', 'cli-region-2', ...requestFlags], {
      env: settings,
    });
    expect(fromProfile.stderr).toBe('');
    expect(fromProfile.code).toBe(EXIT_CODES.ok);
    expect(await receiveAll(sqs, queues.queueUrls.normal, 1)).toHaveLength(1);
  });
});

describe('sluice --help', () => {
  it('documents the exit codes on the program and on every command', async () => {
    for (const argv of [
      ['--help'],
      ['submit', '--help'],
      ['result', '--help'],
      ['help', 'result'],
    ]) {
      const { code, stdout } = await sluice(argv);
      expect(code).toBe(EXIT_CODES.ok);
      expect(stdout).toMatch(/Exit codes:/);
      expect(stdout).toMatch(/3 +no result yet/);
      expect(stdout).toMatch(/4 +AWS or connection error/);
    }
    const { stdout } = await sluice(['submit', '--help']);
    expect(stdout).toMatch(/--file <path>/);
    expect(stdout).toMatch(/SLUICE_QUEUE_URLS/);
  });

  it('exits 2 without a command', async () => {
    const { code, stderr } = await sluice([]);
    expect(code).toBe(EXIT_CODES.usage);
    expect(stderr).toMatch(/Usage: sluice/);
  });
});
