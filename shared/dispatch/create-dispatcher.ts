/**
 * Wires a {@link Dispatcher} from its environment and the clients it talks to. Used by the
 * Lambda handler and by the local runtime, so both run exactly the same composition.
 */
import { BucketStore, type DynamoSender } from '../admission/bucket-store.js';
import type { DispatcherEnvironment } from '../config/environment.js';
import { createCatalog } from '../limits/index.js';
import { RequestsStore } from '../requests/requests-store.js';
import { CallRunner, DEFAULT_MAX_CLIENTS } from './call-runner.js';
import { Dispatcher, type DispatcherDeps } from './dispatcher.js';
import { QueueSender, type SqsSender } from './queue-sender.js';
import type { Telemetry } from './telemetry.js';

/** Clients and seams for {@link createDispatcher}. */
export interface DispatcherClients {
  readonly dynamodb: DynamoSender;
  readonly sqs: SqsSender;
  readonly telemetry?: Telemetry;
  /** Extra settings for the clients that run calls (local: credentials). @default {} */
  readonly callClientDefaults?: Record<string, unknown>;
  /** Credentials per target account for the clients that run calls (local stack). */
  readonly callCredentialsFor?: (account: string) => unknown;
  readonly clock?: () => number;
  /** Replace parts (tests inject faults here). */
  readonly overrides?: Partial<Pick<DispatcherDeps, 'buckets' | 'requests' | 'runner' | 'queue'>>;
}

/** Builds the dispatcher and the parts it owns. */
export function createDispatcher(env: DispatcherEnvironment, clients: DispatcherClients) {
  const { deployment } = env;
  const clock = clients.clock ?? Date.now;
  const buckets = new BucketStore({
    client: clients.dynamodb,
    tableName: env.bucketsTableName,
    horizonMs: deployment.horizonMs,
    lateAllowanceMs: deployment.lateAllowanceMs,
    clock,
  });
  const requests = new RequestsStore({
    client: clients.dynamodb,
    tableName: env.requestsTableName,
    resultTtlDays: deployment.resultTtlDays,
  });
  const runner = new CallRunner({
    targets: deployment.targets,
    clientDefaults: clients.callClientDefaults ?? {},
    ...(clients.callCredentialsFor ? { credentialsFor: clients.callCredentialsFor } : {}),
    ...(env.ownAccountRoleArn === undefined ? {} : { ownAccountRoleArn: env.ownAccountRoleArn }),
    // A client evicted while its call is in flight would lose its sockets: keep well more than
    // the calls that run at once.
    maxClients: Math.max(DEFAULT_MAX_CLIENTS, 2 * deployment.maxConcurrentCalls),
  });
  const dispatcher = new Dispatcher({
    deployment,
    producerQueues: env.producerQueues,
    scheduledQueueUrl: env.scheduledQueueUrl,
    dlqUrl: env.dlqUrl,
    catalog: createCatalog(deployment.limits),
    buckets,
    requests,
    runner,
    queue: new QueueSender(clients.sqs),
    clock,
    ...(clients.telemetry ? { telemetry: clients.telemetry } : {}),
    ...clients.overrides,
  });
  return { dispatcher, runner, buckets, requests };
}
