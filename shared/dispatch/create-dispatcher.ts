/**
 * Wires a {@link Dispatcher} from its environment and the clients it talks to. Used by the
 * Lambda handler and by the local runtime, so both run exactly the same composition.
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BucketStore, type DynamoSender } from '../admission/bucket-store.js';
import { withTimeouts } from '../aws/client-timeouts.js';
import type { DispatcherEnvironment } from '../config/environment.js';
import { createCatalog } from '../limits/index.js';
import { ReadsStore } from '../reads/reads-store.js';
import { OutputStore, type S3Sender } from '../requests/outputs.js';
import { RequestsStore } from '../requests/requests-store.js';
import { CallRunner, DEFAULT_MAX_CLIENTS } from './call-runner.js';
import { Dispatcher, type DispatcherDeps } from './dispatcher.js';
import { QueueSender, type SqsSender } from './queue-sender.js';
import { type ReplyClients, ReplySender } from './replies.js';
import type { Telemetry } from './telemetry.js';

/** Clients and seams for {@link createDispatcher}. */
export interface DispatcherClients {
  readonly dynamodb: DynamoSender;
  readonly sqs: SqsSender;
  /** Writes outputs too large for a result to the outputs bucket. */
  readonly s3: S3Sender;
  /**
   * How replies get a client for the region of their queue or topic.
   * @default the SDK's clients, configured by the environment (`AWS_ENDPOINT_URL_SQS` …)
   */
  readonly replyClients?: ReplyClients;
  readonly telemetry?: Telemetry;
  /** Extra settings for the clients that run calls (local: credentials). @default {} */
  readonly callClientDefaults?: Record<string, unknown>;
  /** Credentials per target account for the clients that run calls (local stack). */
  readonly callCredentialsFor?: (account: string) => unknown;
  readonly clock?: () => number;
  /** Replace parts (tests inject faults here). */
  readonly overrides?: Partial<
    Pick<
      DispatcherDeps,
      'buckets' | 'requests' | 'reads' | 'runner' | 'queue' | 'replies' | 'outputs'
    >
  >;
}

/** Reply clients from the SDK's configuration chain, one per region, with timeouts. */
export const SDK_REPLY_CLIENTS: ReplyClients = {
  sqs: (region) =>
    new SQSClient({ ...withTimeouts('sqs'), ...(region === undefined ? {} : { region }) }),
  sns: (region) =>
    new SNSClient({ ...withTimeouts('sns'), ...(region === undefined ? {} : { region }) }),
};

/** Builds the dispatcher and the parts it owns. */
export function createDispatcher(env: DispatcherEnvironment, clients: DispatcherClients) {
  const { deployment } = env;
  const clock = clients.clock ?? Date.now;
  const buckets = new BucketStore({
    client: clients.dynamodb,
    tableName: env.bucketsTableName,
    horizonMs: deployment.horizonMs,
    lateAllowanceMs: deployment.lateAllowanceMs,
    scheduling: deployment.scheduling,
    learnedRate: deployment.learnedRate,
    clock,
  });
  const requests = new RequestsStore({
    client: clients.dynamodb,
    tableName: env.requestsTableName,
    resultTtlDays: deployment.resultTtlDays,
  });
  const reads =
    env.readsTableName === undefined
      ? undefined
      : new ReadsStore({ client: clients.dynamodb, tableName: env.readsTableName });
  const runner = new CallRunner({
    targets: deployment.targets,
    clientDefaults: clients.callClientDefaults ?? {},
    timeouts: deployment.callTimeouts,
    ...(clients.callCredentialsFor ? { credentialsFor: clients.callCredentialsFor } : {}),
    ...(env.ownAccountRoleArn === undefined ? {} : { ownAccountRoleArn: env.ownAccountRoleArn }),
    // A client evicted while its call is in flight would lose its sockets: keep well more than
    // the calls that run at once.
    maxClients: Math.max(DEFAULT_MAX_CLIENTS, 2 * deployment.maxConcurrentCalls),
  });
  const replies = new ReplySender(clients.replyClients ?? SDK_REPLY_CLIENTS);
  const dispatcher = new Dispatcher({
    deployment,
    producerQueues: env.producerQueues,
    scheduledQueueUrl: env.scheduledQueueUrl,
    dlqUrl: env.dlqUrl,
    catalog: createCatalog(deployment.limits),
    buckets,
    requests,
    ...(reads === undefined ? {} : { reads }),
    runner,
    queue: new QueueSender(clients.sqs),
    replies,
    outputs: new OutputStore({ s3: clients.s3, bucketName: env.outputsBucketName }),
    clock,
    ...(clients.telemetry ? { telemetry: clients.telemetry } : {}),
    ...clients.overrides,
  });
  return { dispatcher, runner, buckets, requests, reads, replies };
}
