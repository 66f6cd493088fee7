/**
 * The deployed handler module (functions/dispatcher/) driven with SQS events shaped as Lambda
 * delivers them, against the local engines (dynalite, fauxqs, the provider simulator): its
 * partial batch responses, and the structured logs and EMF metrics Powertools prints to stdout,
 * as Lambda's log stream receives them. Both the factory (with injected parts) and the default
 * export (built from environment variables, as on Lambda) are driven.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { interceptLocalhostDns } from 'fauxqs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createHandler,
  LOGGER_OPTIONS,
  METRICS_OPTIONS,
} from '../../functions/dispatcher/create-handler.js';
import { accountCredentials } from '../../local/emulators/credentials.js';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import { sqsRecordOf } from '../../local/lambda-events.js';
import { LOCAL_ALLOW } from '../../local/stack.js';
import { ENV } from '../../shared/config/environment.js';
import { formatProducerQueues } from '../../shared/config/producer-queues.js';
import { METRIC_NAMESPACE, METRICS } from '../../shared/contract/metrics.js';
import {
  createDispatcher,
  type DispatcherClients,
} from '../../shared/dispatch/create-dispatcher.js';
import { ENVELOPE } from '../../shared/dispatch/envelope.js';
import { powertoolsTelemetry } from '../../shared/dispatch/telemetry.js';
import { ACCOUNT, describeInstances, startDispatchStack } from '../support/dispatch-stack.js';
import { emfDocuments, jsonLines } from '../support/emf.js';
import { printedDuring } from '../support/printed.js';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/sqs-events.js';

type Stack = Awaited<ReturnType<typeof startDispatchStack>>;
type Handler = ReturnType<typeof createHandler>;

let stack: Stack;
let dynamodb: ReturnType<typeof localDynamoClient>;

beforeAll(async () => {
  stack = await startDispatchStack({ config: {} });
  dynamodb = localDynamoClient(stack.dynamoEndpoint);
});
afterAll(async () => {
  dynamodb?.destroy();
  await stack?.stop();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** A record from the normal request queue. */
function record(body: string, messageId?: string) {
  return sqsRecord({
    body,
    queueUrl: stack.queueUrls.normal,
    ...(messageId === undefined ? {} : { messageId }),
  });
}

/** The factory applied to the stack's engines, with real Powertools (printing to stdout). */
function handlerWith(overrides: DispatcherClients['overrides'] = {}): Handler {
  const logger = new Logger(LOGGER_OPTIONS);
  const metrics = new Metrics(METRICS_OPTIONS);
  const { dispatcher } = createDispatcher(stack.env, {
    dynamodb,
    sqs: stack.sqs,
    s3: stack.s3,
    callCredentialsFor: accountCredentials,
    telemetry: powertoolsTelemetry(logger, metrics),
    overrides,
  });
  return createHandler({ dispatcher, logger, metrics });
}

/** Invokes `handler` with these records; returns its response and the JSON lines it printed. */
async function invoke(handler: Handler, ...records: ReturnType<typeof record>[]) {
  const context = lambdaContext();
  const { value: response, printed } = await printedDuring(() =>
    handler(sqsEvent(...records), context),
  );
  return { response, documents: jsonLines(printed), context };
}

describe('dispatcher handler factory', () => {
  it('runs a valid request end to end, records its result and acknowledges the message', async () => {
    const handler = handlerWith();
    const { response, documents, context } = await invoke(
      handler,
      record(JSON.stringify(describeInstances('handler-ok-1'))),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await stack.client.getResult('handler-ok-1')).result).toMatchObject({
      status: 'succeeded',
      attempts: 1,
    });

    const metrics = emfDocuments(documents, METRIC_NAMESPACE);
    const names = metrics.flatMap((m) => m.names);
    expect(names).toEqual(
      expect.arrayContaining([
        METRICS.AdmissionWrites,
        METRICS.AdmittedCalls,
        METRICS.CallDurationMs,
        METRICS.Results,
      ]),
    );
    const result = metrics.find((m) => m.names.includes(METRICS.Results))?.doc;
    expect(result).toMatchObject({ Service: 'ec2', Status: 'succeeded', [METRICS.Results]: 1 });
    // Log lines carry the invocation's Lambda context (Powertools' injectLambdaContext).
    const logs = documents.filter((d) => 'level' in d);
    for (const line of logs) {
      expect(line).toMatchObject({
        service: LOGGER_OPTIONS.serviceName,
        function_name: context.functionName,
        function_request_id: context.awsRequestId,
      });
    }
  });

  it('answers a poison message with a rejection without failing the batch', async () => {
    const handler = handlerWith();
    const { response, documents } = await invoke(
      handler,
      record(JSON.stringify({ v: 1, id: 'handler-poison-1', call: 'nonsense' }), 'poison'),
      record(JSON.stringify(describeInstances('handler-ok-2')), 'fine'),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await stack.client.getResult('handler-poison-1')).result).toMatchObject({
      status: 'rejected',
      error: { code: 'ValidationFailed' },
    });
    expect((await stack.client.getResult('handler-ok-2')).result).toMatchObject({
      status: 'succeeded',
    });
    const rejected = documents.find((d) => d.message === 'message rejected');
    expect(rejected).toMatchObject({ level: 'INFO', messageId: 'poison', id: 'handler-poison-1' });
    // Fields and rules only, never the body.
    expect(JSON.stringify(rejected)).not.toContain('nonsense');
  });

  it('reports a message whose processing failed in batchItemFailures, by its messageId', async () => {
    const built = createDispatcher(stack.env, { dynamodb, sqs: stack.sqs, s3: stack.s3 });
    const handler = handlerWith({
      requests: {
        claim: async (key, ...rest) => {
          if (key === 'default#handler-doomed-1') throw new Error('requests table unavailable');
          return built.requests.claim(key, ...rest);
        },
        markSent: built.requests.markSent.bind(built.requests),
        release: built.requests.release.bind(built.requests),
        finishClaimed: built.requests.finishClaimed.bind(built.requests),
        finishOpen: built.requests.finishOpen.bind(built.requests),
        recordRejection: built.requests.recordRejection.bind(built.requests),
      },
    });
    // Two different reads: identical ones would share the doomed one's call and wait for it.
    const doomed = describeInstances('handler-doomed-1', {
      call: { service: 'ec2', operation: 'DescribeInstances', input: { MaxResults: 5 } },
    });
    const { response, documents } = await invoke(
      handler,
      record(JSON.stringify(doomed), 'doomed'),
      record(JSON.stringify(describeInstances('handler-ok-3')), 'spared'),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'doomed' }] });
    expect((await stack.client.getResult('handler-ok-3')).result).toMatchObject({
      status: 'succeeded',
    });
    expect((await stack.client.getResult('handler-doomed-1')).status).not.toBe('finished');
    expect(documents.find((d) => d.message === 'message left for redelivery')).toMatchObject({
      level: 'WARN',
      messageId: 'doomed',
      detail: 'requests table unavailable',
    });
  });

  it('reports a message whose re-send SQS refused in batchItemFailures', async () => {
    // A reservation whose slot is a minute away is re-sent to the scheduled queue; the sender
    // fails, so SQS must deliver the message again.
    const handler = handlerWith({
      queue: { sendAll: async (m) => new Map(m.map((x) => [x.key, 'Down'])) },
    });
    const slot = Date.now() + 60_000;
    const reserved = sqsRecord({
      body: JSON.stringify(describeInstances('handler-reserved-1')),
      queueUrl: stack.env.scheduledQueueUrl,
      messageId: 'reserved',
      attributes: {
        [ENVELOPE.runAt]: String(slot),
        [ENVELOPE.timeline]: `${slot * 1_000}:0:0`,
        [ENVELOPE.firstSeen]: String(Date.now()),
      },
    });
    const { response } = await invoke(handler, reserved);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'reserved' }] });
  });
});

describe('SQS event factory', () => {
  it('builds the record SQS and Lambda give for the same message, digests included', async () => {
    const body = JSON.stringify(describeInstances('factory-1'));
    const attributes = { [ENVELOPE.firstSeen]: '1700000000000', [ENVELOPE.runAt]: '1700000001000' };
    const queueUrl = stack.queueUrls.low;
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: body,
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
        ),
      }),
    );
    const received = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        WaitTimeSeconds: 2,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const message = received.Messages?.[0];
    if (message === undefined) throw new Error('the message did not arrive');
    const fromSqs = sqsRecordOf(message, queueUrl);
    const made = sqsRecord({
      body,
      queueUrl,
      attributes,
      messageId: fromSqs.messageId,
      sentAtMs: Number(fromSqs.attributes.SentTimestamp),
    });
    expect(made.md5OfBody).toBe(message.MD5OfBody);
    expect(made.md5OfMessageAttributes).toBe(message.MD5OfMessageAttributes);
    const { receiptHandle: _r1, attributes: a1, ...rest1 } = made;
    const { receiptHandle: _r2, attributes: a2, ...rest2 } = fromSqs;
    expect(rest1).toEqual(rest2);
    expect(Object.keys(a1).sort()).toEqual(Object.keys(a2).sort());
    expect(made).toMatchObject({
      eventSource: 'aws:sqs',
      awsRegion: 'us-east-1',
      eventSourceARN: expect.stringMatching(/^arn:aws:sqs:us-east-1:\d{12}:sluice-.*-low$/),
      receiptHandle: expect.any(String),
      attributes: {
        ApproximateReceiveCount: '1',
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
    });
  });
});

describe('dispatcher handler module, as deployed', () => {
  it('builds itself from the Lambda environment on import and handles a batch', async () => {
    vi.stubEnv(ENV.bucketsTable, stack.env.bucketsTableName);
    vi.stubEnv(ENV.requestsTable, stack.env.requestsTableName);
    vi.stubEnv(ENV.producerQueues, formatProducerQueues(stack.env.producerQueues));
    vi.stubEnv(ENV.scheduledQueueUrl, stack.env.scheduledQueueUrl);
    vi.stubEnv(ENV.dlqUrl, stack.env.dlqUrl);
    vi.stubEnv(ENV.outputsBucket, stack.env.outputsBucketName);
    vi.stubEnv(ENV.config, JSON.stringify({ targets: [{ account: ACCOUNT, allow: LOCAL_ALLOW }] }));
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', stack.dynamoEndpoint);
    // The simulator takes the access key as the caller's account.
    vi.stubEnv('AWS_ACCESS_KEY_ID', ACCOUNT);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const { handler } = await import('../../functions/dispatcher/handler.js');

    // The module's SQS client sends to each queue URL's host, as on AWS; fauxqs's hosts
    // (sqs.<region>.localhost) are made to resolve to loopback for this test only.
    const restoreDns = interceptLocalhostDns();
    let invoked: Awaited<ReturnType<typeof invoke>>;
    try {
      invoked = await invoke(
        handler,
        record(JSON.stringify(describeInstances('deployed-ok-1')), 'ok'),
        record('not json', 'poison'),
      );
    } finally {
      restoreDns();
    }
    const { response, documents } = invoked;
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await stack.client.getResult('deployed-ok-1')).result).toMatchObject({
      status: 'succeeded',
    });
    expect(emfDocuments(documents, METRIC_NAMESPACE).flatMap((m) => m.names)).toContain(
      METRICS.Results,
    );
    const dead = await stack.drain(stack.env.dlqUrl, 1);
    expect(dead.map((d) => d.body)).toEqual(['not json']);
  });
});
