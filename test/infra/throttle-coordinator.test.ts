import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnTable, Table } from 'aws-cdk-lib/aws-dynamodb';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { AccountRootPrincipal, Role } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { memoryNeededMib } from '../../infra/coordinator-props.js';
import {
  CONFIG_FILE_NAME,
  ThrottleCoordinator,
  ThrottleCoordinatorPropsError,
} from '../../infra/throttle-coordinator.js';
import { parseSqsQueueUrl } from '../../shared/aws/sqs-url.js';
import { METRICS } from '../../shared/contract/metrics.js';
import { BUCKETS_TABLE, READS_TABLE, REQUESTS_TABLE } from '../../shared/storage/tables.js';
import {
  actionsOf,
  coordinatorTemplate,
  dispatcherStatements,
  MEMBER_ROLE_ARN,
  policyStatements,
  STUB_ENTRY,
  testApp,
  testConfig,
} from './support.js';

// One synthesis with the defaults, shared by the assertions on it.
const defaults = coordinatorTemplate();
const template = defaults.template;

describe('ThrottleCoordinator queues', () => {
  it('creates one encrypted request queue per priority, the scheduled queue and a dead-letter queue', () => {
    template.resourceCountIs('AWS::SQS::Queue', 5);
    template.allResourcesProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('redrives a message to the DLQ after maxReceiveCount receives', () => {
    const requestQueues = template.findResources('AWS::SQS::Queue', {
      Properties: { RedrivePolicy: Match.anyValue() },
    });
    expect(Object.keys(requestQueues)).toHaveLength(4);
    for (const queue of Object.values(requestQueues)) {
      expect(queue.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { 'Fn::GetAtt': [expect.stringMatching(/DeadLetterQueue/), 'Arn'] },
        maxReceiveCount: 5,
      });
    }
  });

  it('sets the request queues visibility timeout to 6x the function timeout', () => {
    const { template: custom } = coordinatorTemplate({ functionTimeout: Duration.seconds(120) });
    const fn = custom.findResources('AWS::Lambda::Function');
    const timeout = Object.values(fn)[0]?.Properties.Timeout as number;
    expect(timeout).toBe(120);
    const queues = custom.findResources('AWS::SQS::Queue', {
      Properties: { RedrivePolicy: Match.anyValue() },
    });
    for (const queue of Object.values(queues)) {
      expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
    }
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.anyValue(),
      VisibilityTimeout: 360,
    });
  });

  it('denies every queue action without TLS (enforceSSL)', () => {
    template.resourceCountIs('AWS::SQS::QueuePolicy', 5);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sqs:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('creates queues only for the configured priorities', () => {
    const { template: normalOnly, coordinator } = coordinatorTemplate({ priorities: ['normal'] });
    normalOnly.resourceCountIs('AWS::SQS::Queue', 3);
    normalOnly.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    expect(Object.keys(coordinator.queues)).toEqual(['normal']);
  });
});

describe('ThrottleCoordinator event sources', () => {
  it('reports partial batch failures with the default batch, window and max concurrency', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 4);
    template.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    const windows = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map(
      (m) => m.Properties.MaximumBatchingWindowInSeconds,
    );
    // The request queues batch for a second; the scheduled queue delivers at once.
    expect(windows.sort()).toEqual([0, 1, 1, 1]);
  });

  it('applies batch size, window and max concurrency props', () => {
    const { template: custom } = coordinatorTemplate({
      batchSize: 50,
      maxBatchingWindow: Duration.seconds(5),
      maxConcurrency: 3,
    });
    const mappings = Object.values(custom.findResources('AWS::Lambda::EventSourceMapping'));
    const requestMappings = mappings.filter(
      (m) => m.Properties.MaximumBatchingWindowInSeconds !== 0,
    );
    expect(requestMappings).toHaveLength(3);
    for (const m of requestMappings) {
      expect(m.Properties).toMatchObject({
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 50,
        MaximumBatchingWindowInSeconds: 5,
        ScalingConfig: { MaximumConcurrency: 3 },
      });
    }
    // The scheduled queue: no window, so at most 10 a batch.
    expect(
      mappings.find((m) => m.Properties.MaximumBatchingWindowInSeconds === 0)?.Properties,
    ).toMatchObject({
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });
});

describe('ThrottleCoordinator dispatcher function', () => {
  it('runs nodejs24.x on arm64 with explicit memory and timeout', () => {
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 512,
      Timeout: 60,
      Handler: 'index.handler',
      LoggingConfig: {
        LogFormat: 'JSON',
        LogGroup: { Ref: Match.stringLikeRegexp('DispatcherLogs') },
      },
    });
  });

  it('logs to its own log group with the retention', () => {
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    const { template: custom } = coordinatorTemplate({
      logRetention: RetentionDays.ONE_WEEK,
      memorySize: 1024,
    });
    custom.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    custom.hasResourceProperties('AWS::Lambda::Function', { MemorySize: 1024 });
  });

  it('sets exactly the environment the dispatcher reads', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    const variables = fn?.Properties.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(variables).sort()).toEqual(
      [
        'NODE_OPTIONS',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'SLUICE_BUCKETS_TABLE',
        'SLUICE_CONFIG_FILE',
        'SLUICE_DLQ_URL',
        'SLUICE_OUTPUTS_BUCKET',
        'SLUICE_OWN_ACCOUNT_ROLE_ARN',
        'SLUICE_PRODUCER_QUEUES',
        'SLUICE_READS_TABLE',
        'SLUICE_REQUESTS_TABLE',
        'SLUICE_SCHEDULED_QUEUE_URL',
      ].sort(),
    );
    expect(variables.NODE_OPTIONS).toBe('--enable-source-maps');
    expect(variables.POWERTOOLS_METRICS_NAMESPACE).toBe('Sluice');
    expect(variables.SLUICE_CONFIG_FILE).toBe(CONFIG_FILE_NAME);
    // Without named producers, the three priority queues are all the default producer's.
    expect(JSON.stringify(variables.SLUICE_PRODUCER_QUEUES)).toMatch(
      /default.*RequestQueuehigh.*RequestQueuenormal.*RequestQueuelow/,
    );
  });
});

describe('ThrottleCoordinator tables', () => {
  it.each([
    ['buckets', BUCKETS_TABLE],
    ['requests', REQUESTS_TABLE],
    ['reads', READS_TABLE],
  ])(
    'builds the %s table from its layout: on-demand, PITR, TTL, encrypted, retained',
    (_name, layout) => {
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          KeySchema: [{ AttributeName: layout.partitionKey, KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          TimeToLiveSpecification: { AttributeName: layout.ttlAttribute, Enabled: true },
          SSESpecification: { SSEEnabled: true },
          DeletionProtectionEnabled: true,
        },
      });
    },
  );

  it('hard-codes no physical names', () => {
    for (const [type, nameProperty] of [
      ['AWS::DynamoDB::Table', 'TableName'],
      ['AWS::SQS::Queue', 'QueueName'],
      ['AWS::Lambda::Function', 'FunctionName'],
      ['AWS::IAM::Role', 'RoleName'],
      ['AWS::Logs::LogGroup', 'LogGroupName'],
      ['AWS::CloudWatch::Dashboard', 'DashboardName'],
    ] as const) {
      for (const resource of Object.values(template.findResources(type))) {
        expect(resource.Properties?.[nameProperty], `${type}.${nameProperty}`).toBeUndefined();
      }
    }
  });
});

describe('ThrottleCoordinator outputs bucket', () => {
  const bucketId = () =>
    defaults.stack.getLogicalId(defaults.coordinator.outputsBucket.node.defaultChild as CfnBucket);

  it('is private, encrypted, TLS only, retained, and expires objects with the results', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
          ],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [
            Match.objectLike({
              Status: 'Enabled',
              ExpirationInDays: 7,
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            }),
          ],
        },
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('expires objects after the configured resultTtlDays', () => {
    const { template: custom } = coordinatorTemplate({
      config: { ...testConfig(), resultTtlDays: 30 },
    });
    custom.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 30 })] },
    });
  });

  it('names the bucket in the dispatcher environment and grants it s3:PutObject under outputs/ only', () => {
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    expect(fn?.Properties.Environment.Variables.SLUICE_OUTPUTS_BUCKET).toEqual({ Ref: bucketId() });
    const s3 = policyStatements(template).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('s3:')),
    );
    expect(s3).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId(), 'Arn'] }, '/outputs/*']] },
      }),
    ]);
  });
});

describe('ThrottleCoordinator IAM', () => {
  const statements = policyStatements(template);
  const allows = statements.filter((s) => s.Effect === 'Allow');

  it('grants no wildcard actions on data: no *, no service:* ', () => {
    for (const statement of allows) {
      for (const action of actionsOf(statement)) {
        expect(action).not.toBe('*');
        expect(action).not.toMatch(/^(dynamodb|sqs|logs|sts|ec2|servicequotas):\*$/);
      }
    }
  });

  it('grants table and queue access on those resources only', () => {
    for (const statement of allows) {
      if (actionsOf(statement).some((a) => a.startsWith('dynamodb:') || a.startsWith('sqs:'))) {
        expect(JSON.stringify(statement.Resource)).not.toContain('"*"');
        expect(statement.Resource).not.toBe('*');
      }
    }
    const sendToReply = allows.find((s) =>
      JSON.stringify(s.Resource).includes('arn:aws:sqs:eu-west-1:111111111111:provisioner-results'),
    );
    expect(sendToReply && actionsOf(sendToReply)).toContain('sqs:SendMessage');
  });

  it('allows sts:AssumeRole and sts:TagSession only on the member roles and the own-account role', () => {
    const assume = allows.filter((s) => actionsOf(s).some((a) => a.startsWith('sts:')));
    const ownRole = defaults.stack.getLogicalId(
      defaults.coordinator.ownAccountRole?.node.defaultChild as CfnRole,
    );
    expect(assume).toEqual([
      {
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Effect: 'Allow',
        Resource: [MEMBER_ROLE_ARN, { 'Fn::GetAtt': [ownRole, 'Arn'] }],
      },
    ]);
  });

  it('allows no sts action when no target is allowed to any producer through a role', () => {
    const config = testConfig();
    const { template: memberOnly, coordinator } = coordinatorTemplate({
      config: { ...config, targets: [config.targets[1] as (typeof config.targets)[0]] },
    });
    expect(coordinator.ownAccountRole).toBeUndefined();
    const sts = policyStatements(memberOnly).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('sts:AssumeRole')),
    );
    expect(sts).toEqual([
      { Action: ['sts:AssumeRole', 'sts:TagSession'], Effect: 'Allow', Resource: MEMBER_ROLE_ARN },
    ]);
  });

  it("gives the dispatcher role no provider action: own-account calls run in the own-account role's producer sessions", () => {
    const dispatcherActions = dispatcherStatements(defaults).flatMap(actionsOf);
    expect(
      dispatcherActions.filter((a) => a.startsWith('ec2:') || a.startsWith('servicequotas:')),
    ).toEqual([]);
    const own = defaults.coordinator.ownAccountRole?.node.defaultChild as CfnRole;
    const ownRole = template.toJSON().Resources[defaults.stack.getLogicalId(own)];
    const defaultProducerInEuWest1 = {
      StringEquals: {
        'aws:PrincipalTag/sluice-producer': 'default',
        'aws:RequestedRegion': ['eu-west-1'],
      },
    };
    expect(ownRole.Properties.Policies[0].PolicyDocument.Statement).toEqual([
      {
        Sid: 'Producerdefault0',
        Action: ['ec2:DescribeInstances', 'ec2:RunInstances'],
        Condition: defaultProducerInEuWest1,
        Effect: 'Allow',
        Resource: '*',
      },
      {
        Sid: 'Producerdefault1',
        Action: 'servicequotas:ListServiceQuotas',
        Condition: defaultProducerInEuWest1,
        Effect: 'Allow',
        Resource: '*',
      },
    ]);
  });

  it('grants the dispatcher GetItem and UpdateItem on the three tables, and no other DynamoDB action', () => {
    const dynamo = dispatcherStatements(defaults).filter((s) =>
      actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    const tableArn = (table: Table) => ({
      'Fn::GetAtt': [defaults.stack.getLogicalId(table.node.defaultChild as CfnTable), 'Arn'],
    });
    expect(dynamo).toEqual([
      {
        Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        Effect: 'Allow',
        Resource: [
          tableArn(defaults.coordinator.bucketsTable),
          tableArn(defaults.coordinator.readsTable),
          tableArn(defaults.coordinator.requestsTable),
        ],
      },
    ]);
  });

  it('writes logs to its own log group instead of a managed policy', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      },
      ManagedPolicyArns: Match.absent(),
    });
    const logs = allows.find((s) => actionsOf(s).includes('logs:PutLogEvents'));
    expect(logs?.Resource).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/DispatcherLogs/), 'Arn'],
    });
  });

  it('grants producers sending and readers reading, and nothing else', () => {
    const stack = new Stack(testApp(), 'WithProducer');
    const coordinator = new ThrottleCoordinator(stack, 'Sluice', {
      config: testConfig(),
      entry: STUB_ENTRY,
    });
    const producer = new Role(stack, 'Producer', { assumedBy: new AccountRootPrincipal() });
    coordinator.grantSubmit('default', producer);
    coordinator.grantReadResults('default', producer);
    const producerPolicy = Template.fromStack(stack).findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^Producer') }] },
    });
    const actions = Object.values(producerPolicy).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).flatMap(actionsOf),
    );
    expect(actions).toContain('sqs:SendMessage');
    expect(actions).toContain('dynamodb:GetItem');
    // Large outputs: read, under outputs/ only.
    expect(actions.filter((a) => a.startsWith('s3:'))).toEqual(['s3:GetObject']);
    // A reservation skips admission: producers may send to the request queues only.
    const sendTargets = Object.values(producerPolicy).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>)
        .filter((st) => actionsOf(st).includes('sqs:SendMessage'))
        .map((st) => JSON.stringify(st.Resource)),
    );
    const scheduledId = stack.getLogicalId(
      coordinator.scheduledQueue.node.defaultChild as CfnQueue,
    );
    expect(sendTargets.length).toBeGreaterThan(0);
    expect(sendTargets.join()).toContain('RequestQueue');
    expect(sendTargets.join()).not.toContain(scheduledId);
    expect(
      actions.filter(
        (a) => a.startsWith('dynamodb:') && !/Get|Query|Scan|Describe|ConditionCheck/.test(a),
      ),
    ).toEqual([]);
    // Shared reads hold outputs of every producer's calls: no producer may read them.
    const readsTable = stack.getLogicalId(coordinator.readsTable.node.defaultChild as CfnTable);
    expect(JSON.stringify(producerPolicy)).not.toContain(readsTable);
  });
});

describe('ThrottleCoordinator reply destinations', () => {
  const TOPIC = 'arn:aws:sns:eu-west-1:111111111111:provisioner-results';
  const FIFO_QUEUE = 'https://sqs.us-west-2.amazonaws.com/111111111111/results.fifo';
  const QUEUE_KEY = 'arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
  const TOPIC_KEY = 'arn:aws:kms:eu-west-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab';
  const ENCRYPTED_TOPIC = 'arn:aws:sns:eu-west-1:111111111111:encrypted-results';
  const { template: withReplies } = coordinatorTemplate({
    config: {
      ...testConfig(),
      replyTo: [
        TOPIC,
        { destination: FIFO_QUEUE, kmsKeyArn: QUEUE_KEY },
        { destination: ENCRYPTED_TOPIC, kmsKeyArn: TOPIC_KEY },
      ],
    },
  });
  const allows = policyStatements(withReplies).filter((s) => s.Effect === 'Allow');
  /** Every resource an action of `prefix` is allowed on, and those actions. */
  const grantsOf = (prefix: string) => {
    const matching = allows.filter((s) => actionsOf(s).some((a) => a.startsWith(prefix)));
    return {
      actions: [...new Set(matching.flatMap(actionsOf))].sort(),
      resources: matching.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource])),
    };
  };

  it('grants sns:Publish on exactly the allowlisted topics', () => {
    const sns = grantsOf('sns:');
    expect(sns.actions).toEqual(['sns:Publish']);
    expect(sns.resources.sort()).toEqual([ENCRYPTED_TOPIC, TOPIC]);
  });

  it('grants sending to a reply queue in another region by its ARN', () => {
    const sqs = allows.filter((s) =>
      JSON.stringify(s.Resource).includes('arn:aws:sqs:us-west-2:111111111111:results.fifo'),
    );
    expect(sqs.flatMap(actionsOf)).toContain('sqs:SendMessage');
  });

  it('grants kms:GenerateDataKey and kms:Decrypt on each configured key, and nothing else of KMS', () => {
    const kms = grantsOf('kms:');
    expect(kms.actions).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms.resources.sort()).toEqual([TOPIC_KEY, QUEUE_KEY]);
  });

  it('grants no KMS and no SNS when the destinations have neither', () => {
    const actions = policyStatements(template).flatMap(actionsOf);
    expect(actions.filter((a) => a.startsWith('kms:') || a.startsWith('sns:'))).toEqual([]);
  });
});

describe('ThrottleCoordinator alarms', () => {
  it('creates the DLQ, oldest-message (per queue), provider-throttle and error alarms', () => {
    const { coordinator } = defaults;
    expect(coordinator.alarms.all).toHaveLength(6);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 6);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (alarm) => alarm.Properties as Record<string, unknown>,
    );
    const watching = (metricName: string) =>
      alarms.filter((a) => JSON.stringify(a.Metrics).includes(`"MetricName":"${metricName}"`));

    const [dlq, ...moreDlq] = watching('ApproximateNumberOfMessagesVisible');
    expect(moreDlq).toEqual([]);
    expect(dlq?.Threshold).toBe(1);
    expect(JSON.stringify(dlq?.Metrics)).toContain('"Namespace":"AWS/SQS"');
    expect(JSON.stringify(dlq?.Metrics)).toMatch(/DeadLetterQueue\w+","QueueName"/);

    const oldest = watching('ApproximateAgeOfOldestMessage');
    expect(oldest.map((a) => a.Threshold)).toEqual([1800, 1800, 1800]);

    const [errors] = watching('Errors');
    expect(JSON.stringify(errors?.Metrics)).toContain('"Namespace":"AWS/Lambda"');
    expect(errors?.Threshold).toBe(1);

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: [
        Match.objectLike({
          Expression: `SELECT SUM(${METRICS.ProviderThrottles}) FROM Sluice`,
          Period: 300,
        }),
      ],
      Threshold: 50,
    });
  });

  it('creates alarms without actions when no topic is given', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toBeUndefined();
    }
  });

  it('notifies the alarm topic on alarm and on recovery', () => {
    const stack = new Stack(testApp(), 'WithTopic');
    const topic = new Topic(stack, 'Alarms');
    new ThrottleCoordinator(stack, 'Sluice', {
      config: testConfig(),
      entry: STUB_ENTRY,
      alarmTopic: topic,
    });
    const alarms = Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm');
    expect(Object.keys(alarms)).toHaveLength(6);
    for (const alarm of Object.values(alarms)) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Alarms/) }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^Alarms/) }]);
    }
  });
});

describe('ThrottleCoordinator dashboard', () => {
  const body = JSON.stringify(
    Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties
      .DashboardBody,
  );

  it('graphs every Sluice metric, the queues and the dispatcher', () => {
    for (const name of Object.values(METRICS)) expect(body).toContain(`(${name}) FROM Sluice`);
    expect(body).toContain('ApproximateAgeOfOldestMessage');
    expect(body).toContain('ApproximateNumberOfMessagesVisible');
    for (const metric of ['Errors', 'Throttles', 'Duration', 'Invocations']) {
      expect(body).toContain(`\\"${metric}\\"`);
    }
  });

  it('draws each allowlisted bucket against its effective limit', () => {
    // RunInstances overridden to 4/s, burst 10, times the 0.8 safety factor: 3.2/s, burst 8.
    expect(body).toContain("Bucket = 'RunInstances' GROUP BY Region");
    expect(body).toContain('\\"value\\":200,\\"label\\":\\"most in 1 min: burst 8 + 60 × 3.2/s\\"');
    expect(body).toContain('\\"value\\":192,\\"label\\":\\"sustained: 60 × 3.2/s\\"');
    expect(body).toContain("Bucket = 'RunInstances:resource'");
    expect(body).toContain("Service = 'service-quotas' AND Bucket = 'ListServiceQuotas'");
  });
});

describe('ThrottleCoordinator props validation', () => {
  it('lists every problem in one error', () => {
    const stack = new Stack(testApp(), 'Invalid', { env: { account: '333333333333' } });
    const config = testConfig();
    const act = () =>
      new ThrottleCoordinator(stack, 'Sluice', {
        config: {
          ...config,
          targets: [
            {
              ...(config.targets[0] as (typeof config.targets)[0]),
              allow: [{ service: 'lambda', operations: ['Invoke'] }],
            },
            { account: '12345', allow: [] },
          ],
          replyTo: ['http://localhost:4566/000000000000/results'],
        },
        priorities: ['high', 'low'],
        batchSize: 20,
        maxBatchingWindow: Duration.seconds(0),
        maxConcurrency: 1,
        functionTimeout: Duration.millis(1500),
        memorySize: 100,
        entry: '/nowhere/handler.ts',
      });
    let error: unknown;
    try {
      act();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ThrottleCoordinatorPropsError);
    const { message, problems } = error as ThrottleCoordinatorPropsError;
    expect(message).toMatch(/^invalid ThrottleCoordinator props \(\d+ problems\):/);
    expect(problems).toEqual(
      expect.arrayContaining([
        'config.targets[1].account: must be a 12-digit AWS account id (pattern)',
        'config.targets[1].allow: must have at least 1 entries (max-entries)',
        'priorities: must include normal (requests of other priorities fall back to it)',
        'batchSize: above 10 needs a maxBatchingWindow above 0 (SQS event sources); got 20',
        'maxConcurrency: must be an integer from 2 to 1000 (SQS event source limit); got 1',
        'functionTimeout: must be whole seconds from 1 to 900; got 1.5',
        'memorySize: must be an integer from 128 to 10240 MiB; got 100',
        'entry: the dispatcher handler /nowhere/handler.ts does not exist',
      ]),
    );
    for (const problem of problems) expect(message).toContain(problem);
  });

  it('refuses a memorySize that cannot hold the outputs of the calls running at once', () => {
    const props = (memorySize: number, maxOutputBytes?: number) => ({
      config: { ...testConfig(), ...(maxOutputBytes === undefined ? {} : { maxOutputBytes }) },
      memorySize,
    });
    const problemsOf = (p: ReturnType<typeof props>): readonly string[] => {
      try {
        new ThrottleCoordinator(new Stack(testApp(), 'Memory'), 'Sluice', p);
        return [];
      } catch (error) {
        return (error as ThrottleCoordinatorPropsError).problems;
      }
    };
    // The defaults: 8 MiB outputs × 16 calls × 3 copies + 128 MiB = 512 MiB.
    expect(memoryNeededMib(8_388_608, 16)).toBe(512);
    expect(problemsOf(props(512))).toEqual([]);
    expect(problemsOf(props(511))).toEqual([
      'memorySize: 511 MiB cannot hold 16 calls (maxConcurrentCalls) with outputs of up to 8388608 bytes (maxOutputBytes); raise it to at least 512 MiB or lower those',
    ]);
    expect(problemsOf(props(512, 104_857_600))).toHaveLength(1);
  });

  it('lists problems the schema cannot see: services, role accounts, own account, reply queues, lease', () => {
    const stack = new Stack(testApp(), 'Invalid', { env: { account: '333333333333' } });
    const config = testConfig();
    let error: unknown;
    try {
      new ThrottleCoordinator(stack, 'Sluice', {
        config: {
          ...config,
          targets: [
            {
              account: '111111111111',
              allow: [{ service: 'lambda', operations: ['Invoke'] }],
            },
            {
              account: '222222222222',
              roleArn: 'arn:aws:iam::999999999999:role/Elsewhere',
              allow: [{ service: 'ec2', operations: ['DescribeInstances'] }],
            },
          ],
          replyTo: ['http://localhost:4566/000000000000/results'],
          leaseMs: 30_000,
        },
        entry: STUB_ENTRY,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ThrottleCoordinatorPropsError);
    expect((error as ThrottleCoordinatorPropsError).problems).toEqual([
      'config.targets[0].allow[0].service: lambda has no SDK client in the dispatcher (known: ec2, service-quotas)',
      'config.targets[0]: account 111111111111 has no roleArn, so the dispatcher would call it with its own credentials, which belong to 333333333333; add a roleArn',
      'config.targets[1].roleArn: must be a role in the target account 222222222222; got one in 999999999999',
      'config.replyTo[0]: http://localhost:4566/000000000000/results is neither an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>) nor an SNS topic ARN',
      "config.leaseMs: must be at least the function timeout (60000 ms), so a running call's claim does not lapse; got 30000",
    ]);
  });
});

describe('ThrottleCoordinator call timeouts', () => {
  it('refuses a function timeout too short for a call with its timeout, slot wait and bookkeeping', () => {
    const attempt = (config: ReturnType<typeof testConfig>) => {
      try {
        coordinatorTemplate({ config, functionTimeout: Duration.seconds(20) });
      } catch (error) {
        return (error as ThrottleCoordinatorPropsError).problems;
      }
      return [];
    };

    // EC2 calls may take 20 s by default: with 2 s of slot wait and 3 s of bookkeeping, 25 s.
    expect(attempt(testConfig())).toContain(
      'functionTimeout: ec2 calls may take 20000 ms (callTimeouts), so an invocation needs at least 25000 ms to run one (slot wait, call, bookkeeping); got 20000 ms',
    );
    expect(
      attempt({
        ...testConfig(),
        callTimeouts: { ec2: { requestTimeoutMs: 10_000 } },
        leaseMs: 20_000,
      }),
    ).toEqual([]);
  });
});

describe('parseSqsQueueUrl', () => {
  it('turns current and legacy queue URLs into ARNs, and refuses others', () => {
    expect(parseSqsQueueUrl('https://sqs.eu-west-1.amazonaws.com/111111111111/results')?.arn).toBe(
      'arn:aws:sqs:eu-west-1:111111111111:results',
    );
    expect(parseSqsQueueUrl('https://us-east-1.queue.amazonaws.com/111111111111/a.fifo')?.arn).toBe(
      'arn:aws:sqs:us-east-1:111111111111:a.fifo',
    );
    expect(parseSqsQueueUrl('https://sqs.cn-north-1.amazonaws.com.cn/111111111111/r')?.arn).toBe(
      'arn:aws-cn:sqs:cn-north-1:111111111111:r',
    );
    expect(parseSqsQueueUrl('http://localhost:4566/000000000000/results')).toBeUndefined();
  });
});
