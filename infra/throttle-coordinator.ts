/**
 * `ThrottleCoordinator`: the whole Sluice coordinator in one construct — request queues (one per
 * named producer, or one per priority for a deployment that names none), the scheduled queue (the
 * dispatcher's own: reservations and re-sent requests), a dead-letter queue, the dispatcher
 * function and its SQS event sources, the buckets, requests and reads tables, the outputs bucket
 * (outputs too large for a result record), the own-account role, least-privilege IAM, a
 * dashboard and alarms.
 *
 * No business logic lives here: the construct turns the deployment configuration (validated by
 * the same parser the dispatcher uses) into resources, and ships the configuration inside the
 * function bundle.
 */
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type { Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import {
  AnyPrincipal,
  Effect,
  Grant,
  type IGrantable,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, LoggingFormat, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Bucket, CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../shared/config/environment.js';
import { METRIC_NAMESPACE } from '../shared/contract/metrics.js';
import { DEFAULT_PRODUCER } from '../shared/contract/patterns.js';
import type { Priority } from '../shared/contract/request.js';
import { OUTPUTS_PREFIX, producerOutputsPrefix } from '../shared/requests/outputs.js';
import {
  BUCKETS_TABLE,
  READS_TABLE,
  REQUESTS_TABLE,
  requestKey,
  type TableLayout,
} from '../shared/storage/tables.js';
import {
  REPO_ROOT,
  type ResolvedCoordinatorProps,
  resolveCoordinatorProps,
  type ThrottleCoordinatorProps,
} from './coordinator-props.js';
import { acknowledgeAllowlist } from './member-role.js';
import { CoordinatorAlarms } from './monitoring/alarms.js';
import { bucketLimits } from './monitoring/bucket-limits.js';
import { CoordinatorDashboard } from './monitoring/dashboard.js';
import { createOutputsBucket } from './outputs-bucket.js';
import { producersIn, SluiceTargetRole } from './target-role.js';

export {
  type ThrottleCoordinatorProps,
  ThrottleCoordinatorPropsError,
} from './coordinator-props.js';

/** File name of the deployment configuration inside the function bundle. */
export const CONFIG_FILE_NAME = 'sluice-config.json';

/** SQS event sources take at most this many messages a batch without a batching window. */
const MAX_BATCH_WITHOUT_WINDOW = 10;

/** The service name the dispatcher's logs and metrics carry (Powertools). */
export const POWERTOOLS_SERVICE_NAME = 'sluice-dispatcher';

/**
 * The DynamoDB actions the dispatcher uses on each table (shared/admission/bucket-item.ts,
 * shared/requests/requests-store.ts, shared/reads/reads-store.ts): conditional updates and
 * consistent reads, nothing else.
 */
export const DISPATCHER_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

/** What the scheduled queue refuses to every principal but the dispatcher role. */
export const SCHEDULED_QUEUE_DENIED_ACTIONS = [
  'sqs:SendMessage',
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibility',
] as const;

/**
 * The Sluice throttle coordinator: producers send API-call requests to `queues`; the dispatcher
 * admits each against the shared token buckets and runs it when the budget allows.
 *
 * @example
 * import { App, Stack } from 'aws-cdk-lib';
 * import type { IRole } from 'aws-cdk-lib/aws-iam';
 * import { ThrottleCoordinator } from './infra/throttle-coordinator.js';
 *
 * declare const producerRole: IRole;
 * const app = new App();
 * const stack = new Stack(app, 'Sluice');
 * const sluice = new ThrottleCoordinator(stack, 'Sluice', {
 *   config: {
 *     targets: [
 *       { account: '111111111111', allow: [{ service: 'ec2', operations: ['DescribeInstances'] }] },
 *     ],
 *     producers: [
 *       { name: 'web', allow: [{ accounts: ['111111111111'], service: 'ec2', operations: ['DescribeInstances'] }] },
 *     ],
 *   },
 * });
 * sluice.grantSubmit('web', producerRole);
 * sluice.grantReadResults('web', producerRole);
 */
export class ThrottleCoordinator extends Construct {
  /**
   * Each producer's request queues by priority: `{ default: { high, normal, low } }` for a
   * deployment that names no producers (the configured priorities), else one queue per producer
   * serving every priority, `{ web: { normal }, … }`.
   */
  readonly producerQueues: Readonly<Record<string, Readonly<Partial<Record<Priority, Queue>>>>>;
  /** Every request queue by label: its priority, or `producer-<name>`. */
  readonly queues: Readonly<Record<string, Queue>>;
  /**
   * The dispatcher's own queue: admitted calls waiting for their slots, and requests re-sent to
   * wait. Its messages' envelope is trusted (producer, first receipt, reservation), so a queue
   * policy denies every principal but the dispatcher role.
   */
  readonly scheduledQueue: Queue;
  /**
   * The role calls to own-account targets (no `roleArn`) run under, one session per producer;
   * absent when every target has a role.
   */
  readonly ownAccountRole: Role | undefined;
  /** Dead-letter queue of every request queue; the dispatcher also sends exhausted requests here. */
  readonly dlq: Queue;
  /** The dispatcher function. */
  readonly dispatcher: NodejsFunction;
  /** The dispatcher's execution role. Member-account roles trust this role. */
  readonly dispatcherRole: Role;
  /** The dispatcher's log group. */
  readonly logGroup: LogGroup;
  /** Token-bucket state: one item per (account, region, service, bucket). */
  readonly bucketsTable: Table;
  /** Request records: status, attempts, result; expired by TTL. */
  readonly requestsTable: Table;
  /**
   * Outputs too large for a result record (over 192 KiB), one object each under
   * `outputs/<producer>/`; a result points to its object. Objects expire with the results.
   */
  readonly outputsBucket: Bucket;
  /**
   * Shared reads: who is making each read now, and cached outputs; expired by TTL. Only the
   * dispatcher reads or writes it (it holds outputs of every producer's calls).
   */
  readonly readsTable: Table;
  /** The CloudWatch dashboard. */
  readonly dashboard: Dashboard;
  /** The alarms, by what they watch. */
  readonly alarms: CoordinatorAlarms;
  /** Every prop with its default applied. */
  readonly settings: ResolvedCoordinatorProps;

  constructor(scope: Construct, id: string, props: ThrottleCoordinatorProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const settings = resolveCoordinatorProps(
      props,
      Token.isUnresolved(stack.account) ? undefined : stack.account,
    );
    this.settings = settings;

    // Queues: SSE-SQS (no key policy for producers to be granted, no KMS cost) and TLS only.
    this.dlq = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const workQueue = (id: string) =>
      new Queue(this, id, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: settings.visibilityTimeout,
        retentionPeriod: Duration.days(4),
        deadLetterQueue: { queue: this.dlq, maxReceiveCount: settings.maxReceiveCount },
      });
    const producerQueues: Record<string, Partial<Record<Priority, Queue>>> = {};
    const queues: Record<string, Queue> = {};
    if (settings.config.implicitProducer) {
      const own: Partial<Record<Priority, Queue>> = {};
      for (const priority of settings.priorities) {
        own[priority] = workQueue(`RequestQueue-${priority}`);
        queues[priority] = own[priority];
      }
      producerQueues[DEFAULT_PRODUCER] = own;
    } else {
      // One queue per producer: priority orders admission, and a producer's queue only holds
      // fresh requests (waits go to the scheduled queue), so per-priority queues would multiply
      // event source mappings (each at least 2 concurrent dispatchers) for little.
      for (const producer of settings.config.producers) {
        const queue = workQueue(`RequestQueue-producer-${producer.name}`);
        producerQueues[producer.name] = { normal: queue };
        queues[`producer-${producer.name}`] = queue;
      }
    }
    this.producerQueues = producerQueues;
    this.queues = queues;
    // Its own queue and event source: admitted calls never wait behind requests not yet admitted.
    this.scheduledQueue = workQueue('ScheduledQueue');
    this.bucketsTable = this.table(BUCKETS_TABLE);
    this.requestsTable = this.table(REQUESTS_TABLE);
    this.readsTable = this.table(READS_TABLE);
    this.outputsBucket = createOutputsBucket(this, 'OutputsBucket', settings.config.resultTtlDays);

    this.logGroup = new LogGroup(this, 'DispatcherLogs', {
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Our own role: log writes are granted on this log group only, instead of the AWS managed
    // AWSLambdaBasicExecutionRole, which allows creating and writing any log group.
    this.dispatcherRole = new Role(this, 'DispatcherRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Sluice dispatcher: admits and runs allowlisted API calls',
    });
    this.logGroup.grantWrite(this.dispatcherRole);
    this.ownAccountRole = this.createOwnAccountRole(settings, stack);

    this.dispatcher = new NodejsFunction(this, 'Dispatcher', {
      entry: settings.entry,
      handler: 'handler',
      depsLockFilePath: `${REPO_ROOT}/package-lock.json`,
      projectRoot: REPO_ROOT,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: settings.memorySize,
      timeout: settings.functionTimeout,
      role: this.dispatcherRole,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      description: 'Sluice dispatcher: admits API calls against shared token buckets and runs them',
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        [ENV.bucketsTable]: this.bucketsTable.tableName,
        [ENV.requestsTable]: this.requestsTable.tableName,
        [ENV.readsTable]: this.readsTable.tableName,
        [ENV.producerQueues]: stack.toJsonString(
          Object.fromEntries(
            Object.entries(producerQueues).map(([producer, own]) => [
              producer,
              Object.values(own).map((queue) => queue.queueName),
            ]),
          ),
        ),
        ...(this.ownAccountRole === undefined
          ? {}
          : { [ENV.ownAccountRoleArn]: this.ownAccountRole.roleArn }),
        [ENV.scheduledQueueUrl]: this.scheduledQueue.queueUrl,
        [ENV.dlqUrl]: this.dlq.queueUrl,
        [ENV.outputsBucket]: this.outputsBucket.bucketName,
        // The configuration can exceed Lambda's 4 KB of environment: it ships in the bundle.
        [ENV.configFile]: CONFIG_FILE_NAME,
      },
      bundling: dispatcherBundling(settings),
    });

    for (const queue of Object.values(queues)) {
      this.dispatcher.addEventSource(
        new SqsEventSource(queue, {
          batchSize: settings.batchSize,
          maxBatchingWindow: settings.maxBatchingWindow,
          reportBatchItemFailures: true,
          maxConcurrency: settings.maxConcurrency,
        }),
      );
    }
    // Reservations arrive 0.5-1.5 s before their slots: no batching window may hold them back
    // (and without one, SQS event sources take at most 10 messages a batch).
    this.dispatcher.addEventSource(
      new SqsEventSource(this.scheduledQueue, {
        batchSize: Math.min(settings.batchSize, MAX_BATCH_WITHOUT_WINDOW),
        maxBatchingWindow: Duration.seconds(0),
        reportBatchItemFailures: true,
        maxConcurrency: settings.maxConcurrency,
      }),
    );
    this.scheduledQueue.grantSendMessages(this.dispatcher);
    this.closeScheduledQueue();
    this.dlq.grantSendMessages(this.dispatcher);
    // The reads table too: only the dispatcher reads it (it holds every producer's outputs).
    Grant.addToPrincipal({
      grantee: this.dispatcherRole,
      actions: [...DISPATCHER_TABLE_ACTIONS],
      resourceArns: [
        this.bucketsTable.tableArn,
        this.requestsTable.tableArn,
        this.readsTable.tableArn,
      ],
    });
    // Writes outputs, never reads or deletes them (the lifecycle rule does).
    Grant.addToPrincipal({
      grantee: this.dispatcherRole,
      actions: ['s3:PutObject'],
      resourceArns: [this.outputsBucket.arnForObjects(`${OUTPUTS_PREFIX}*`)],
    });
    this.grantReplyDestinations(settings);
    this.grantTargets(settings);

    // No oldest-message alarm on the scheduled queue: its messages wait for their slots by
    // design (up to the horizon); its depth is on the dashboard.
    this.alarms = new CoordinatorAlarms(this, 'Alarms', {
      queues,
      dlq: this.dlq,
      dispatcher: this.dispatcher,
      oldestMessageAgeThreshold: settings.oldestMessageAgeThreshold,
      providerThrottlesThreshold: settings.providerThrottlesThreshold,
      ...(settings.alarmTopic !== undefined ? { topic: settings.alarmTopic } : {}),
    });
    this.dashboard = new CoordinatorDashboard(this, 'Dashboard', {
      queues: { ...queues, scheduled: this.scheduledQueue },
      dlq: this.dlq,
      dispatcher: this.dispatcher,
      buckets: bucketLimits(settings.config),
      alarms: this.alarms.all,
    }).dashboard;

    this.acknowledgeFindings(settings);
  }

  /**
   * Lets `grantee` send requests as `producer`: to that producer's request queues only (the
   * queue is the producer's identity), never to another's or to the scheduled queue.
   * @throws {Error} `producer` is not a producer of the deployment.
   */
  grantSubmit(producer: string, grantee: IGrantable): void {
    for (const queue of Object.values(this.queuesOf(producer))) queue.grantSendMessages(grantee);
  }

  /**
   * Lets `grantee` read `producer`'s request records and results (what `sluice result
   * --producer` needs): `GetItem` on the requests table, only for keys in the producer's
   * namespace (`dynamodb:LeadingKeys` like `<producer>#*`), and `GetObject` on its outputs too
   * large for a record (`outputs/<producer>/*` in the outputs bucket). No Scan or Query: a reader
   * learns nothing of other producers' requests.
   * @throws {Error} `producer` is not a producer of the deployment.
   */
  grantReadResults(producer: string, grantee: IGrantable): void {
    this.queuesOf(producer);
    Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem'],
      resourceArns: [this.requestsTable.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [requestKey(producer, '*')] },
      },
    });
    Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject'],
      resourceArns: [this.outputsBucket.arnForObjects(`${producerOutputsPrefix(producer)}*`)],
    });
  }

  /** A producer's request queues; throws naming the producers when it has none. */
  private queuesOf(producer: string): Readonly<Partial<Record<Priority, Queue>>> {
    const own = this.producerQueues[producer];
    if (own === undefined) {
      throw new Error(
        `${producer} is not a producer of this coordinator (producers: ${Object.keys(this.producerQueues).join(', ')})`,
      );
    }
    return own;
  }

  /**
   * The scheduled queue's messages skip admission and carry a trusted envelope: every principal
   * but the dispatcher role is denied sending, receiving and deleting there, whatever its own
   * policies allow (an account admin with `sqs:*` included).
   */
  private closeScheduledQueue(): void {
    this.scheduledQueue.addToResourcePolicy(
      new PolicyStatement({
        sid: 'OnlyTheDispatcher',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: [...SCHEDULED_QUEUE_DENIED_ACTIONS],
        resources: [this.scheduledQueue.queueArn],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': this.dispatcherRole.roleArn } },
      }),
    );
  }

  /**
   * The role own-account targets' calls run under, one session per producer, allowing each
   * producer its own entries (./target-role.ts): the dispatcher's own role holds no API
   * permission of any target. Undefined when every target has a role of its own.
   */
  private createOwnAccountRole(settings: ResolvedCoordinatorProps, stack: Stack): Role | undefined {
    const own = settings.config.targets.filter((t) => t.roleArn === undefined);
    const producers = settings.config.producers;
    if (own.every((t) => producersIn(producers, t.account).length === 0)) return undefined;
    const target = new SluiceTargetRole(this, 'OwnAccountRole', {
      trustedRoleArn: this.dispatcherRole.roleArn,
      account: own[0]?.account ?? stack.account,
      producers,
      ...(own[0]?.regions === undefined ? {} : { regions: own[0].regions }),
      description: "Sluice: producers' allowlisted API calls in the coordinator's own account",
    });
    acknowledgeAllowlist(target.role, target.actions, 'the coordinator account');
    return target.role;
  }

  /** A state table: on-demand, PITR, TTL, retained when the stack goes, never replaced silently. */
  private table(layout: TableLayout): Table {
    return new Table(this, `${layout.logicalName}Table`, {
      partitionKey: { name: layout.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(layout.ttlAttribute !== undefined ? { timeToLiveAttribute: layout.ttlAttribute } : {}),
      // AWS managed key: encryption visible in the template and key use in CloudTrail, no key
      // policy to run. The tables hold bucket state and API results, no customer secrets.
      // (The reads table could go with the stack — losing it costs calls, not correctness — but
      // it is kept like the others: one rule for every table, and no surprise on deletion.)
      encryption: TableEncryption.AWS_MANAGED,
      // State outlives the stack: losing bucket state admits a burst; losing requests loses
      // results and idempotency. Deleting them is a deliberate, manual act.
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
  }

  /**
   * Results may go to the configured reply queues and topics, and only those; a destination
   * encrypted with a customer-managed key needs that key to encrypt (SQS and SNS both ask for
   * `kms:GenerateDataKey` and `kms:Decrypt` from the sender), and nothing more of it.
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
   * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
   */
  private grantReplyDestinations(settings: ResolvedCoordinatorProps): void {
    const keys = new Set<string>();
    settings.replyDestinations.forEach((ref, i) => {
      if (ref.kind === 'queue') {
        Queue.fromQueueAttributes(this, `ReplyQueue${i}`, {
          queueArn: ref.queue.arn,
          queueUrl: ref.queue.url,
        }).grantSendMessages(this.dispatcher);
      } else {
        Topic.fromTopicArn(this, `ReplyTopic${i}`, ref.topic.arn).grantPublish(this.dispatcher);
      }
      if (ref.kmsKeyArn !== undefined) keys.add(ref.kmsKeyArn);
    });
    [...keys].forEach((keyArn, i) => {
      Key.fromKeyArn(this, `ReplyKey${i}`, keyArn).grant(
        this.dispatcher,
        'kms:GenerateDataKey',
        'kms:Decrypt',
      );
    });
  }

  /**
   * Target access: `sts:AssumeRole` and `sts:TagSession` (the producer's session tag) on exactly
   * the configured member roles and the own-account role; no API permission of its own.
   */
  private grantTargets(settings: ResolvedCoordinatorProps): void {
    const roleArns = [
      ...settings.config.targets.flatMap((t) => (t.roleArn === undefined ? [] : [t.roleArn])),
      ...(this.ownAccountRole === undefined ? [] : [this.ownAccountRole.roleArn]),
    ];
    if (roleArns.length === 0) return;
    Grant.addToPrincipal({
      grantee: this.dispatcherRole,
      actions: ['sts:AssumeRole', 'sts:TagSession'],
      resourceArns: roleArns,
    });
  }

  /** cdk-nag findings this design accepts, each with its reason. */
  private acknowledgeFindings(settings: ResolvedCoordinatorProps): void {
    const fn = Validations.of(this.dispatcher);
    for (const id of ['AwsSolutions-L1', 'Serverless-LambdaLatestVersion']) {
      fn.acknowledge({
        id,
        reason:
          'Pinned to nodejs24.x on purpose: the bundle is built for Node 24 (esbuild target ' +
          'node24) and the test suite runs that very bundle on Node 24 ' +
          '(test/e2e/deployed-bundle.test.ts); when aws-cdk-lib knows a newer Node runtime, ' +
          'move to it deliberately, with the bundle test on that Node.',
      });
    }
    fn.acknowledge({
      id: 'Serverless-LambdaTracing',
      reason:
        "X-Ray off: the dispatcher's SDK clients are not instrumented, so a trace would show one " +
        'opaque segment; per-call latency, throttles and outcomes are EMF metrics and JSON logs.',
    });
    for (const id of ['Serverless-LambdaDLQ', 'Serverless-LambdaAsyncFailureDestination']) {
      fn.acknowledge({
        id,
        reason:
          'Only invoked synchronously by SQS event source mappings, never asynchronously; failed ' +
          "messages go to the request queues' redrive dead-letter queue.",
      });
    }
    Validations.of(this.dlq).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This is the dead-letter queue itself: the end of the line, kept 14 days for inspection ' +
        'and redrive; a DLQ of a DLQ would only move the problem.',
    });
    for (const mapping of this.dispatcher.node.children) {
      if (mapping.node.id.startsWith('SqsEventSource')) {
        Validations.of(mapping).acknowledge({
          id: 'Serverless-LambdaEventSourceMappingDestination',
          reason:
            'SQS event source mappings support no on-failure destination; a message failing ' +
            `${settings.maxReceiveCount} receives moves to the dead-letter queue by the queue's redrive policy.`,
        });
      }
    }
    const policy = this.dispatcherRole.node.tryFindChild('DefaultPolicy');
    const bucketId = Stack.of(this).getLogicalId(this.outputsBucket.node.defaultChild as CfnBucket);
    if (policy !== undefined) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${OUTPUTS_PREFIX}*]`,
        reason:
          'The dispatcher writes each large output to an object key it makes per producer, ' +
          'request and attempt (outputs/<producer>/<id>/<attempt>.json), unknown at deploy time; ' +
          's3:PutObject only, under the outputs/ prefix of the one outputs bucket.',
      });
    }
  }
}

/**
 * esbuild settings of the dispatcher. Everything is bundled, the AWS SDK included: the nodejs24.x
 * runtime ships an SDK v3 of its own choosing and updates it without notice, while the bundled
 * clients are the versions the tests ran (and `@aws-sdk/client-ec2`,
 * `@aws-sdk/client-service-quotas` are loaded lazily, so a cold start only evaluates the
 * clients its batch needs). The deployment configuration is written next to the bundle.
 */
function dispatcherBundling(settings: ResolvedCoordinatorProps) {
  const configBase64 = Buffer.from(JSON.stringify(settings.configInput)).toString('base64');
  return {
    format: OutputFormat.ESM,
    target: 'node24',
    minify: true,
    sourceMap: true,
    sourcesContent: false,
    externalModules: [],
    mainFields: ['module', 'main'],
    // Some CommonJS dependencies call require() on Node built-ins; ESM output has no require.
    banner:
      "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);",
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      // Base64 keeps the JSON out of shell quoting; node runs wherever esbuild does.
      afterBundling: (_inputDir: string, outputDir: string) => [
        `node -e "require('fs').writeFileSync(process.argv[1], Buffer.from(process.argv[2], 'base64'))" "${outputDir}/${CONFIG_FILE_NAME}" ${configBase64}`,
      ],
    },
  };
}
