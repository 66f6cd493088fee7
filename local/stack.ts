/**
 * The whole system on one machine: dynalite, fauxqs, the provider simulator (or endpoints given
 * by the caller), the tables and queues from the same layouts the CDK app deploys, and the local
 * event source driving the deployed handler module's factory (functions/dispatcher/
 * create-handler.ts) with Powertools on, its JSON logs and EMF metrics written to a log file.
 *
 * One assembly for `npm start`, the end-to-end benchmark and the tests.
 *
 * Several accounts: target calls are signed with access key = account id, which the simulator
 * treats as that account, so each account has its own provider buckets, as at AWS.
 *
 * Several producers (`config.producers`): each gets its own request queue and reply queue, and
 * a client of its own (`clients`). The dispatcher tells them apart by the queue a message
 * arrived on, as on AWS, where IAM lets each send to its own queue only; the local SQS emulator
 * checks no permissions (and sets one `SenderId` for everyone), so here the isolation the queue
 * gives is the dispatcher's and the requests table's, not IAM's.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { withTimeouts } from '../shared/aws/client-timeouts.js';
import { queueNameOf } from '../shared/aws/sqs-url.js';
import { SluiceClient } from '../shared/client/producer.js';
import { type DeploymentConfigInput, parseDeploymentConfig } from '../shared/config/deployment.js';
import { type DispatcherEnvironment, ENV } from '../shared/config/environment.js';
import { formatProducerQueues } from '../shared/config/producer-queues.js';
import { DEFAULT_PRODUCER } from '../shared/contract/patterns.js';
import { createDispatcher, type DispatcherClients } from '../shared/dispatch/create-dispatcher.js';
import { BUCKETS_TABLE, READS_TABLE, REQUESTS_TABLE } from '../shared/storage/tables.js';
import { DispatchActivity } from './activity.js';
import { createTableAndWait } from './emulators/create-table.js';
import { accountCredentials, LOCAL_CREDENTIALS, LOCAL_REGION } from './emulators/credentials.js';
import { localDynamoClient } from './emulators/dynalite.js';
import { createBucket, s3Client } from './emulators/s3.js';
import { createTopic, snsClient } from './emulators/sns.js';
import { createQueues, sqsClient } from './emulators/sqs.js';
import { startEmulatorsThread } from './emulators/thread.js';
import { LocalEventSource } from './event-source.js';
import { executionEnvironment } from './execution-environment.js';
import {
  type ProviderSimulator,
  type ProviderSimulatorOptions,
  startProviderSimulator,
} from './simulator/index.js';

/** The default target account of the local stack. */
export const LOCAL_ACCOUNT = '111111111111';

/** What each local target may call: the operations the demo and the tests use. */
export const LOCAL_ALLOW: DeploymentConfigInput['targets'][number]['allow'] = [
  { service: 'ec2', operations: ['RunInstances', 'Describe*', 'CreateTags'] },
  { service: 'service-quotas', operations: ['ListServiceQuotas'] },
];

/**
 * The local stack's lateness allowance (the deployed default is 250 ms). Here the emulators,
 * the simulator, the producers and every dispatcher share two cores: when a storm starts, the
 * first calls leave up to ~0.7 s after their slots. Measured with `npm run bench:e2e` at safety
 * factor 1 (1,380 calls): 250 ms gave 6 provider throttles per run, 750 ms 0–2, 1,000 ms none
 * in every run; it costs 1 s of drain once (two of RunInstances' five burst tokens).
 */
export const LOCAL_LATE_ALLOWANCE_MS = 1_000;

/**
 * The local stack's call timeouts (the deployed defaults are 20 s for EC2, 10 s for Service
 * Quotas): the simulator answers in milliseconds, so a call that takes seconds is hung, and
 * tests of hung connections should not wait long.
 */
export const LOCAL_CALL_TIMEOUTS: NonNullable<DeploymentConfigInput['callTimeouts']> = {
  ec2: { requestTimeoutMs: 5_000 },
  'service-quotas': { requestTimeoutMs: 5_000 },
};

/** Settings of {@link startLocalStack}; all optional. */
export interface LocalStackOptions {
  /** Target accounts (each gets {@link LOCAL_ALLOW}) unless `config.targets` is given. @default [LOCAL_ACCOUNT] */
  readonly accounts?: readonly string[];
  /**
   * Deployment configuration; `targets` defaults from `accounts`; `replyTo` adds the reply
   * queues and the reply topic; each producer's `replyTo`, its own reply queue and the topic.
   */
  readonly config?: Omit<DeploymentConfigInput, 'targets'> & {
    targets?: DeploymentConfigInput['targets'];
  };
  /**
   * More reply destinations, made once the emulators run (their URLs name the emulator's port):
   * given the SQS (and SNS) endpoint, creates queues or topics and returns their URLs or ARNs,
   * which the deployment then allows as `replyTo`.
   */
  readonly replyDestinations?: (sqsEndpoint: string) => Promise<readonly string[]>;
  /** Provider simulator settings. Ignored when both `endpoints` are given. */
  readonly simulator?: ProviderSimulatorOptions;
  /** Target endpoints instead of the built-in simulator (else AWS_ENDPOINT_URL_<SERVICE>). */
  readonly endpoints?: { readonly ec2?: string; readonly serviceQuotas?: string };
  /**
   * Visibility timeout of the request queues, seconds: longer than a batch takes (admitted calls
   * wait up to two seconds in-process for their slot). @default 10
   */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * The function timeout each invocation's context reports, seconds: the dispatcher starts no
   * call that could outlive it. On AWS a queue's visibility timeout must be at least the
   * function's; tests that shorten the visibility timeout (quick redelivery) keep this one, so
   * calls still have time to run. @default 30
   */
  readonly functionTimeoutSeconds?: number;
  /** Receives before the DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** Batches in flight per request queue (the event source's maximum concurrency). @default 2 */
  readonly maxConcurrency?: number;
  /**
   * Batches in flight on the scheduled queue. Its invocations mostly wait for slots, which costs
   * no CPU, so it gets as many as the request queues together. @default 3 × maxConcurrency
   */
  readonly scheduledConcurrency?: number;
  /** Messages per batch. @default 10 */
  readonly batchSize?: number;
  /**
   * Where the dispatcher's Powertools output goes — its JSON log lines and EMF metric documents,
   * what Lambda sends to the function's log stream — appended, one JSON document per line.
   * @default none: the lines are written to nothing
   */
  readonly logFile?: string;
  /** Replace parts of the dispatcher (tests inject faults). */
  readonly overrides?: (
    built: ReturnType<typeof createDispatcher>,
  ) => DispatcherClients['overrides'];
  /** Start polling at once. @default false */
  readonly start?: boolean;
}

/** A running local stack; `stop()` ends everything it started. */
export type LocalStack = Awaited<ReturnType<typeof startLocalStack>>;

/** Starts the local stack (the event source too when `start` is set). */
export async function startLocalStack(options: LocalStackOptions = {}) {
  const external =
    options.endpoints?.ec2 !== undefined && options.endpoints.serviceQuotas !== undefined;
  const [{ dynamo, sqs }, simulator] = await Promise.all([
    startEmulatorsThread(),
    external ? undefined : startProviderSimulator(options.simulator ?? {}),
  ]);
  // The SDK's standard endpoint resolution: what a user would point at any compatible endpoint.
  process.env.AWS_ENDPOINT_URL_EC2 = options.endpoints?.ec2 ?? simulator?.endpoint ?? '';
  process.env.AWS_ENDPOINT_URL_SERVICE_QUOTAS =
    options.endpoints?.serviceQuotas ?? simulator?.endpoint ?? '';

  // The dispatcher's DynamoDB client counts its requests (the cost of coordination). Its
  // clients have the deployed function's timeouts.
  const ddb = localDynamoClient(dynamo.endpoint, withTimeouts('dynamodb'));
  const dynamoRequests = { count: 0, byKind: new Map<string, number>() };
  ddb.middlewareStack.add(
    (next, context) => async (args) => {
      dynamoRequests.count++;
      // By table and command: where the cost of coordination goes.
      const table = String((args.input as { TableName?: string }).TableName ?? '');
      const kind = `${table.slice(table.lastIndexOf('-') + 1)} ${context.commandName ?? ''}`;
      dynamoRequests.byKind.set(kind, (dynamoRequests.byKind.get(kind) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countLocalStackRequests' },
  );
  const producerDdb = localDynamoClient(dynamo.endpoint);
  const sqsc = sqsClient(sqs.endpoint);
  const dispatcherSqs = sqsClient(sqs.endpoint, withTimeouts('sqs'));
  const sns = snsClient(sqs.endpoint);
  const s3 = s3Client(sqs.endpoint, withTimeouts('s3'));
  const prefix = `sluice-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const { targets, replyTo, producers, ...rest } = options.config ?? {};
  const named = producers?.map((p) => p.name);
  const [
    bucketsTableName,
    requestsTableName,
    readsTableName,
    queues,
    replies,
    replyTopicArn,
    extraReplyTo,
    outputsBucketName,
  ] = await Promise.all([
    createTableAndWait(ddb, BUCKETS_TABLE, `${prefix}-buckets`),
    createTableAndWait(ddb, REQUESTS_TABLE, `${prefix}-requests`),
    createTableAndWait(ddb, READS_TABLE, `${prefix}-reads`),
    createQueues(sqsc, {
      prefix,
      maxReceiveCount: options.maxReceiveCount ?? 5,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 10,
      ...(named === undefined ? {} : { producers: named }),
    }),
    createQueues(sqsc, {
      prefix: `${prefix}-replies`,
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 30,
      ...(named === undefined ? {} : { producers: named }),
    }),
    // Results pushed to subscribers: queues (or anything SNS delivers to) subscribe to it.
    createTopic(sns, `${prefix}-results`),
    options.replyDestinations?.(sqs.endpoint) ?? [],
    // Bucket names: lowercase, at most 63 characters (the prefix is lowercase base36 and hex).
    createBucket(s3, `${prefix}-outputs`),
  ]);
  /** Each producer's reply queue. */
  const replyQueueUrls: Record<string, string> = Object.fromEntries(
    Object.entries(replies.producerQueueUrls).map(([producer, urls]) => [producer, urls.normal]),
  );
  const replyQueueUrl = replies.queueUrls.normal;
  const accounts = options.accounts ?? [LOCAL_ACCOUNT];
  const producerQueues = new Map(
    Object.entries(queues.producerQueueUrls).flatMap(([producer, urls]) =>
      [...new Set(Object.values(urls))].map((url) => [queueNameOf(url), producer] as const),
    ),
  );
  const configInput: DeploymentConfigInput = {
    targets: targets ?? accounts.map((account) => ({ account, allow: LOCAL_ALLOW })),
    ...(producers === undefined
      ? {}
      : {
          // The topic is shared: its messages carry the producer, for subscriptions to filter.
          producers: producers.map((p) => ({
            ...p,
            replyTo: [
              replyQueueUrls[p.name] as string,
              replyTopicArn,
              ...extraReplyTo,
              ...(p.replyTo ?? []),
            ],
          })),
        }),
    replyTo: [...Object.values(replyQueueUrls), replyTopicArn, ...extraReplyTo, ...(replyTo ?? [])],
    lateAllowanceMs: LOCAL_LATE_ALLOWANCE_MS,
    callTimeouts: LOCAL_CALL_TIMEOUTS,
    ...rest,
  };
  const env: DispatcherEnvironment = {
    bucketsTableName,
    requestsTableName,
    readsTableName,
    producerQueues,
    scheduledQueueUrl: queues.scheduledQueueUrl,
    dlqUrl: queues.dlqUrl,
    outputsBucketName,
    deployment: parseDeploymentConfig(configInput),
  };
  const clients: DispatcherClients = {
    dynamodb: ddb,
    sqs: dispatcherSqs,
    s3,
    // Access key = account id: the simulator's caller account (distinct buckets per account).
    callCredentialsFor: accountCredentials,
    // fauxqs serves every region (and SNS) on one endpoint; the clients still sign per region.
    replyClients: {
      sqs: (region) =>
        sqsClient(sqs.endpoint, {
          ...withTimeouts('sqs'),
          ...(region === undefined ? {} : { region }),
        }),
      sns: (region) => snsClient(sqs.endpoint, region, withTimeouts('sns')),
    },
  };
  const built = createDispatcher(env, clients);
  // A first call should not wait for its SDK client module to load (Lambda would load it in
  // its init phase, before the first batch).
  await built.runner.preload(
    env.deployment.targets.flatMap((target) => target.allow.map((entry) => entry.service)),
  );
  // The live view's counts wrap the built parts; a test's overrides wrap them again.
  const activity = new DispatchActivity(env.deployment);
  // Every execution environment replies through the one sender (and its clients).
  const overrides = {
    replies: built.replies,
    ...activity.wrap(built),
    ...(options.overrides?.(built) ?? {}),
  };
  const errors: Error[] = [];
  const log = openLog(options.logFile, (error) => errors.push(error));
  /** One execution environment, over the stores, runner and clients all share. */
  const environment = () => executionEnvironment(env, { ...clients, overrides }, log.stream);
  const { dispatcher, handler } = environment();
  const perQueue = options.maxConcurrency ?? 2;
  const requestQueueUrls = [
    ...new Set(Object.values(queues.producerQueueUrls).flatMap((urls) => Object.values(urls))),
  ];
  const source = new LocalEventSource({
    sqs: sqsc,
    queueUrls: [...requestQueueUrls, queues.scheduledQueueUrl],
    initHandler: () => environment().handler,
    timeoutSeconds: options.functionTimeoutSeconds ?? 30,
    maxConcurrency: {
      ...Object.fromEntries(requestQueueUrls.map((url) => [url, perQueue])),
      [queues.scheduledQueueUrl]: options.scheduledConcurrency ?? 3 * perQueue,
    },
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    onError: (error) => errors.push(error),
  });
  /** A client per producer: sends to its queues, reads its results. */
  const producerClients: Record<string, SluiceClient> = Object.fromEntries(
    Object.entries(queues.producerQueueUrls).map(([producer, queueUrls]) => [
      producer,
      new SluiceClient({
        sqs: sqsc,
        dynamodb: producerDdb,
        // Outputs too large for a result come back from the outputs bucket, as for any producer.
        s3,
        queueUrls,
        requestsTableName,
        producer,
      }),
    ]),
  );
  const firstProducer = named?.[0] ?? DEFAULT_PRODUCER;
  const client = producerClients[firstProducer] as SluiceClient;

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

  if (options.start) source.start();
  let stopped: Promise<void> | undefined;
  return {
    env,
    /** The built-in simulator; undefined when both target endpoints were given. */
    simulator: simulator as ProviderSimulator | undefined,
    /** The first producer's client (the default producer's, without named producers). */
    client,
    /** Each producer's client. */
    clients: producerClients,
    /** Each producer's request queues by priority. */
    producerQueueUrls: queues.producerQueueUrls,
    /** The first producer's request queues by priority. */
    queueUrls: queues.queueUrls,
    dispatcher,
    /** What the dispatcher admitted and is running, per bucket. */
    activity,
    /** The handler of one execution environment (the event source's pollers have their own). */
    handler,
    /** Where the dispatcher's Powertools lines go, if anywhere. */
    logFile: options.logFile,
    source,
    errors,
    /** The first producer's reply queue. */
    replyQueueUrl,
    /** Each producer's reply queue. */
    replyQueueUrls,
    /** An SNS topic results may be sent to (`replyTo`); subscribe queues to it to receive them. */
    replyTopicArn,
    /** The sender of every reply, with its clients per region. */
    replies: built.replies,
    sqs: sqsc,
    sns,
    /** An S3 client of the emulator (outputs too large for a result are in its outputs bucket). */
    s3,
    sqsEndpoint: sqs.endpoint,
    dynamoEndpoint: dynamo.endpoint,
    /**
     * What the CLI, the producer client and any other AWS client (boto3, the AWS CLI, the SDKs
     * of other languages) read to reach this stack (`--serve` prints it): the SDKs' standard
     * variables — both region variables, as boto3 and the AWS CLI read only
     * `AWS_DEFAULT_REGION` — and Sluice's.
     */
    cliEnvironment: {
      SLUICE_QUEUE_URLS: JSON.stringify(queues.queueUrls),
      SLUICE_REQUESTS_TABLE: env.requestsTableName,
      ...(named === undefined ? {} : { SLUICE_PRODUCER: firstProducer }),
      SLUICE_REPLY_QUEUE_URL: replyQueueUrl,
      SLUICE_REPLY_TOPIC_ARN: replyTopicArn,
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_SNS: sqs.endpoint,
      AWS_ENDPOINT_URL_S3: sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    } as Readonly<Record<string, string>>,
    /**
     * The variables a dispatcher of this stack reads (`SLUICE_*`, as the construct sets them on
     * the function), for a dispatcher in a process of its own (local/dispatcher-process.ts).
     */
    dispatcherVariables: {
      [ENV.bucketsTable]: env.bucketsTableName,
      [ENV.requestsTable]: env.requestsTableName,
      ...(env.readsTableName === undefined ? {} : { [ENV.readsTable]: env.readsTableName }),
      [ENV.producerQueues]: formatProducerQueues(env.producerQueues),
      [ENV.scheduledQueueUrl]: env.scheduledQueueUrl,
      [ENV.dlqUrl]: env.dlqUrl,
      [ENV.outputsBucket]: env.outputsBucketName,
      [ENV.config]: JSON.stringify(configInput),
    } as Readonly<Record<string, string>>,
    /** DynamoDB requests the dispatcher sent so far. */
    dynamoRequests: () => dynamoRequests.count,
    /** The same, by table and command (`buckets UpdateItem`, `requests GetItem`, …). */
    dynamoRequestsByKind: (): ReadonlyMap<string, number> => new Map(dynamoRequests.byKind),
    drain,
    /** Stops polling, then the emulators; idempotent. */
    stop(): Promise<void> {
      stopped ??= (async () => {
        await source.stop();
        await log.close();
        built.runner.destroy();
        built.replies.destroy();
        await Promise.all([simulator?.close(), sqs.stop(), dynamo.stop()]);
        ddb.destroy();
        producerDdb.destroy();
        sqsc.destroy();
        dispatcherSqs.destroy();
        sns.destroy();
        s3.destroy();
      })();
      return stopped;
    },
  };
}

/**
 * The dispatcher's log: a file, appended to, or nowhere. A write that fails (a full disk, or a
 * batch still in flight when the stack stops, which the event source waits for only so long) is
 * reported to `onError` instead of ending the process.
 */
function openLog(
  file: string | undefined,
  onError: (error: Error) => void,
): { stream: Writable; close(): Promise<void> } {
  let stream: Writable;
  if (file === undefined) {
    stream = new Writable({ write: (_chunk, _encoding, done) => done() });
  } else {
    mkdirSync(dirname(file), { recursive: true });
    stream = createWriteStream(file, { flags: 'a' });
  }
  stream.on('error', onError);
  return {
    stream,
    close: () => new Promise<void>((resolve) => stream.end(resolve)),
  };
}
