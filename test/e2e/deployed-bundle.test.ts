/**
 * The code `cdk deploy` uploads, run as Lambda runs it: the Sluice app synthesized with bundling,
 * the dispatcher's asset found in the cloud assembly, and its `index.handler` invoked on the
 * runtime's Node (24, from the npm registry: test/support/node24.ts) in a process of its own,
 * with the template's environment pointed at the local stack (dynalite, fauxqs, the provider
 * simulator) and SQS events shaped as Lambda delivers them. The tests that import the TypeScript
 * sources (test/integration/dispatcher-handler.test.ts) cannot see what only the bundle does:
 * esbuild's output, ESM on the runtime's Node, the configuration file shipped beside it.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME } from '../../infra/throttle-coordinator.js';
import { accountCredentials, LOCAL_REGION } from '../../local/emulators/credentials.js';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import { LOCAL_ALLOW } from '../../local/stack.js';
import { SluiceResultReader } from '../../shared/client/result-reader.js';
import type { DeploymentConfigInput } from '../../shared/config/deployment.js';
import { ENV } from '../../shared/config/environment.js';
import { formatProducerQueues } from '../../shared/config/producer-queues.js';
import { METRIC_NAMESPACE, METRICS } from '../../shared/contract/metrics.js';
import {
  type DeployedFunction,
  invokeDeployed,
  localVariables,
  nodeVersion,
  synthesizeDispatcher,
} from '../support/deployed-bundle.js';
import { ACCOUNT, describeInstances, startDispatchStack } from '../support/dispatch-stack.js';
import { emfDocuments, jsonLines } from '../support/emf.js';
import { node24 } from '../support/node24.js';
import { lambdaContext, sqsEvent, sqsRecord } from '../support/sqs-events.js';

const node = node24();

/** The deployment configuration the bundle ships: the calls the tests make are allowed. */
const CONFIG: DeploymentConfigInput = { targets: [{ account: ACCOUNT, allow: LOCAL_ALLOW }] };

describe.skipIf(node === undefined)('the deployed dispatcher bundle, on Node 24', () => {
  const runtimeNode = node as string;
  let fn: DeployedFunction;
  let stack: Awaited<ReturnType<typeof startDispatchStack>>;

  beforeAll(async () => {
    stack = await startDispatchStack({ config: {} });
    fn = synthesizeDispatcher(CONFIG);
  }, 120_000);
  afterAll(async () => {
    await stack?.stop();
    if (fn !== undefined) rmSync(fn.assemblyDir, { recursive: true, force: true });
  });

  /** The function's environment on the local stack; `local` replaces resource-named values. */
  function environment(local: Record<string, string> = {}): Record<string, string> {
    return {
      ...localVariables(fn, {
        [ENV.bucketsTable]: stack.env.bucketsTableName,
        [ENV.requestsTable]: stack.env.requestsTableName,
        [ENV.readsTable]: stack.env.readsTableName ?? '',
        [ENV.producerQueues]: formatProducerQueues(stack.env.producerQueues),
        // No STS here: own-account calls are signed with the local account's key, as the local
        // stack's dispatcher signs them.
        [ENV.ownAccountRoleArn]: '',
        [ENV.scheduledQueueUrl]: stack.env.scheduledQueueUrl,
        [ENV.dlqUrl]: stack.env.dlqUrl,
        [ENV.outputsBucket]: stack.env.outputsBucketName,
        ...local,
      }),
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      // The simulator takes the access key as the caller's account.
      AWS_ACCESS_KEY_ID: ACCOUNT,
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: stack.dynamoEndpoint,
      // Requests carry their QueueUrl and go to its host (see lambda-runtime/localhost-dns.mjs);
      // this keeps any other SQS request on the machine too.
      AWS_ENDPOINT_URL_SQS: stack.sqsEndpoint,
      // The deployed S3 client addresses buckets in the host name (<bucket>.localhost, which
      // resolves like fauxqs's queue hosts); fauxqs serves S3 on its SQS endpoint.
      AWS_ENDPOINT_URL_S3: stack.sqsEndpoint.replace('127.0.0.1', 'localhost'),
      AWS_ENDPOINT_URL_EC2: stack.simulator.endpoint,
      AWS_ENDPOINT_URL_SERVICE_QUOTAS: stack.simulator.endpoint,
    };
  }

  /** A record from the normal request queue. */
  function record(body: string, messageId: string) {
    return sqsRecord({ body, queueUrl: stack.queueUrls.normal, messageId });
  }

  it('is the handler module for nodejs24.x that cdk deploy uploads, configuration beside it', async () => {
    expect(fn.properties).toMatchObject({ Runtime: 'nodejs24.x', Handler: 'index.handler' });
    expect(await nodeVersion(runtimeNode)).toMatch(/^v24\./);
    expect(existsSync(join(fn.assetDir, 'index.mjs'))).toBe(true);
    const shipped = JSON.parse(readFileSync(join(fn.assetDir, CONFIG_FILE_NAME), 'utf8'));
    expect(shipped).toEqual(CONFIG);
  });

  it('runs a valid request end to end and answers a poison message without failing the batch', async () => {
    const before = stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'DescribeInstances').executed;
    const context = lambdaContext();
    const { response, stdout } = await invokeDeployed(
      runtimeNode,
      fn,
      environment(),
      sqsEvent(
        record(JSON.stringify(describeInstances('bundle-ok-1')), 'ok'),
        record(JSON.stringify({ v: 1, id: 'bundle-poison-1', call: 'nonsense' }), 'poison'),
        record('not json', 'unreadable'),
      ),
      context,
    );

    expect(response).toEqual({ batchItemFailures: [] } satisfies SQSBatchResponse);
    expect((await stack.client.getResult('bundle-ok-1')).result).toMatchObject({
      status: 'succeeded',
      attempts: 1,
    });
    expect(stack.simulator.statsFor(ACCOUNT, 'us-east-1', 'DescribeInstances').executed).toBe(
      before + 1,
    );
    expect((await stack.client.getResult('bundle-poison-1')).result).toMatchObject({
      status: 'rejected',
      error: { code: 'ValidationFailed' },
    });
    // A body with no request id cannot be answered: it goes to the dead-letter queue (over SQS).
    const dead = await stack.drain(stack.env.dlqUrl, 1);
    expect(dead.map((d) => d.body)).toEqual(['not json']);

    // What Lambda's log stream would receive: Powertools' JSON lines and EMF documents.
    const documents = jsonLines(stdout);
    const metrics = emfDocuments(documents, METRIC_NAMESPACE);
    expect(metrics.flatMap((m) => m.names)).toEqual(
      expect.arrayContaining([
        METRICS.AdmissionWrites,
        METRICS.AdmittedCalls,
        METRICS.CallDurationMs,
        METRICS.Results,
      ]),
    );
    expect(metrics.map((m) => m.doc)).toContainEqual(
      expect.objectContaining({
        service: 'sluice-dispatcher',
        Service: 'ec2',
        Status: 'succeeded',
        [METRICS.Results]: 1,
      }),
    );
    const logs = documents.filter((d) => 'level' in d);
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) {
      expect(line).toMatchObject({
        function_name: context.functionName,
        function_request_id: context.awsRequestId,
      });
    }
  });

  it('stores an output too large for the record in the outputs bucket, addressed as on AWS', async () => {
    // 1,000 instances (EC2's launch burst): DescribeInstances answers with ~280 KB.
    const ec2 = new EC2Client({
      endpoint: stack.simulator.endpoint,
      region: LOCAL_REGION,
      credentials: accountCredentials(ACCOUNT),
    });
    await ec2
      .send(new RunInstancesCommand({ ImageId: 'ami-1', MinCount: 1_000, MaxCount: 1_000 }))
      .finally(() => ec2.destroy());

    const { response } = await invokeDeployed(
      runtimeNode,
      fn,
      environment(),
      sqsEvent(record(JSON.stringify(describeInstances('bundle-large-1')), 'large')),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    const result = await stack.client.waitForResult('bundle-large-1', { timeoutMs: 10_000 });
    const output = result.status === 'succeeded' ? result.output : undefined;
    expect(
      ((output?.Reservations ?? []) as { Instances: unknown[] }[]).flatMap((r) => r.Instances),
    ).toHaveLength(1_000);
    // The record itself holds the pointer (a reader without S3 gets it), not the output.
    const dynamodb = localDynamoClient(stack.dynamoEndpoint);
    const stored = await new SluiceResultReader({
      dynamodb,
      requestsTableName: stack.env.requestsTableName,
    })
      .getResult('bundle-large-1')
      .finally(() => dynamodb.destroy());
    expect(stored.result).toMatchObject({
      status: 'succeeded',
      outputRef: {
        bucket: stack.env.outputsBucketName,
        key: 'outputs/default/bundle-large-1/1.json',
      },
    });
    expect(stored.result).not.toHaveProperty('output');
  });

  it('reports a message whose processing failed in batchItemFailures, by its messageId', async () => {
    // The function's requests table does not exist: claiming the request fails.
    const { response, stderr } = await invokeDeployed(
      runtimeNode,
      fn,
      environment({ [ENV.requestsTable]: 'sluice-no-such-requests-table' }),
      sqsEvent(record(JSON.stringify(describeInstances('bundle-doomed-1')), 'doomed')),
      lambdaContext(),
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'doomed' }] });
    // Warnings go to stderr (console.warn), which Lambda sends to the log stream as well.
    expect(
      jsonLines(stderr).find((d) => d.message === 'message left for redelivery'),
    ).toMatchObject({
      level: 'WARN',
      messageId: 'doomed',
      detail: expect.stringContaining('resource not found'),
    });
    expect((await stack.client.getResult('bundle-doomed-1')).status).toBe('unknown');
  });
});
