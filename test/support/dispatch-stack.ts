/**
 * A whole dispatcher on the embedded emulators, for integration tests: dynalite, fauxqs, the
 * throttling provider simulator, the tables and queues, and the local event source driving the
 * same dispatcher the Lambda handler builds.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { SluiceClient } from '../../shared/client/producer.js';
import {
  type DeploymentConfigInput,
  parseDeploymentConfig,
} from '../../shared/config/deployment.js';
import type { DispatcherEnvironment } from '../../shared/config/environment.js';
import {
  createDispatcher,
  type DispatcherClients,
} from '../../shared/dispatch/create-dispatcher.js';
import { fromSqsRecord } from '../../shared/dispatch/sqs-records.js';
import { startDynalite } from '../../shared/local/dynalite.js';
import { LocalEventSource } from '../../shared/local/event-source.js';
import {
  type ProviderSimulatorOptions,
  startProviderSimulator,
} from '../../shared/local/provider-simulator.js';
import { createQueues, sqsClient, startSqs } from '../../shared/local/sqs.js';
import { BUCKETS_TABLE, REQUESTS_TABLE } from '../../shared/storage/tables.js';
import { createTable, dynamoClient, uniqueTableName } from './engines.js';

export const ACCOUNT = '111111111111';
/** The access key the runner signs with; the simulator maps it to {@link ACCOUNT}. */
const ACCESS_KEY = 'AKIDSLUICETEST';

export interface StackOptions {
  readonly config: Omit<DeploymentConfigInput, 'targets'> & {
    targets?: DeploymentConfigInput['targets'];
  };
  readonly simulator?: ProviderSimulatorOptions;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
  readonly overrides?: (
    built: ReturnType<typeof createDispatcher>,
  ) => DispatcherClients['overrides'];
}

export async function startDispatchStack(options: StackOptions) {
  const [dynamo, sqs, simulator] = await Promise.all([
    startDynalite(),
    startSqs(),
    startProviderSimulator({ accounts: { [ACCESS_KEY]: ACCOUNT }, ...options.simulator }),
  ]);
  // The SDK's standard endpoint resolution: what a user would point at any compatible endpoint.
  process.env.AWS_ENDPOINT_URL_EC2 = simulator.endpoint;
  process.env.AWS_ENDPOINT_URL_SERVICE_QUOTAS = simulator.endpoint;
  const ddb = dynamoClient(dynamo.endpoint);
  const sqsc = sqsClient(sqs.endpoint);
  const prefix = uniqueTableName('sluice');
  const [bucketsTableName, requestsTableName, queues, replies] = await Promise.all([
    createTable(ddb, BUCKETS_TABLE, `${prefix}-buckets`),
    createTable(ddb, REQUESTS_TABLE, `${prefix}-requests`),
    createQueues(sqsc, {
      prefix,
      maxReceiveCount: options.maxReceiveCount ?? 5,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 2,
    }),
    createQueues(sqsc, {
      prefix: `${prefix}-replies`,
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 30,
    }),
  ]);
  const replyQueueUrl = replies.queueUrls.normal;
  const env: DispatcherEnvironment = {
    bucketsTableName,
    requestsTableName,
    queueUrls: queues.queueUrls,
    dlqUrl: queues.dlqUrl,
    deployment: parseDeploymentConfig({
      targets: [
        {
          account: ACCOUNT,
          allow: [
            { service: 'ec2', operations: ['RunInstances', 'Describe*', 'CreateTags'] },
            { service: 'service-quotas', operations: ['ListServiceQuotas'] },
          ],
        },
      ],
      replyTo: [replyQueueUrl],
      ...options.config,
    }),
  };
  const clients: DispatcherClients = {
    dynamodb: ddb,
    sqs: sqsc,
    callClientDefaults: { credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: 'local' } },
  };
  const built = createDispatcher(env, clients);
  const { dispatcher } = options.overrides
    ? createDispatcher(env, { ...clients, overrides: options.overrides(built) ?? {} })
    : built;
  const errors: Error[] = [];
  let invocation = 0;
  /** What the Lambda handler does, minus Powertools: one batch in, partial failures out. */
  const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    invocation++;
    const { failedMessageIds } = await dispatcher.processBatch(
      event.Records.map(fromSqsRecord),
      `local-${invocation}`,
    );
    return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
  const source = new LocalEventSource({
    sqs: sqsc,
    queueUrls: Object.values(queues.queueUrls),
    handler,
    maxConcurrency: 2,
    onError: (error) => errors.push(error),
  });
  const client = new SluiceClient({
    sqs: sqsc,
    dynamodb: ddb,
    queueUrls: queues.queueUrls,
    requestsTableName,
  });

  /** Drains a queue (bounded): what the DLQ or the reply queue holds. */
  async function drain(queueUrl: string, expected: number, timeoutMs = 10_000) {
    const bodies: { body: string; attributes: Record<string, string> }[] = [];
    const deadline = Date.now() + timeoutMs;
    while (bodies.length < expected && Date.now() < deadline) {
      const out = await sqsc.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      for (const m of out.Messages ?? []) {
        bodies.push({
          body: m.Body ?? '',
          attributes: Object.fromEntries(
            Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue ?? '']),
          ),
        });
      }
    }
    return bodies;
  }

  return {
    env,
    simulator,
    client,
    dispatcher,
    handler,
    source,
    errors,
    replyQueueUrl,
    sqs: sqsc,
    sqsEndpoint: sqs.endpoint,
    dynamoEndpoint: dynamo.endpoint,
    drain,
    async stop() {
      await source.stop();
      built.runner.destroy();
      await Promise.all([simulator.close(), sqs.stop(), dynamo.stop()]);
    },
  };
}
