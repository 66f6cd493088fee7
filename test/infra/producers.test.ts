/**
 * The coordinator with named producers: one request queue each, the dispatcher told which queue
 * is whose, submit and read grants scoped to one producer, the scheduled queue closed to all but
 * the dispatcher, and target roles that allow each producer its own entries only, by the
 * producer's session tag.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AccountRootPrincipal, type CfnRole, Role } from 'aws-cdk-lib/aws-iam';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import {
  SCHEDULED_QUEUE_DENIED_ACTIONS,
  ThrottleCoordinator,
} from '../../infra/throttle-coordinator.js';
import {
  actionsOf,
  coordinatorTemplate,
  STUB_ENTRY,
  testApp,
  testProducersConfig,
} from './support.js';

const built = coordinatorTemplate({ config: testProducersConfig() });
const { template, coordinator, stack } = built;
const idOf = (queue: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(queue.node.defaultChild as CfnQueue);

describe('ThrottleCoordinator with producers', () => {
  it('makes one request queue per producer and tells the dispatcher which is whose', () => {
    expect(Object.keys(coordinator.producerQueues)).toEqual(['web', 'quotas']);
    expect(Object.keys(coordinator.queues)).toEqual(['producer-web', 'producer-quotas']);
    // Two request queues, the scheduled queue and the DLQ.
    template.resourceCountIs('AWS::SQS::Queue', 4);
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    const variables = fn?.Properties.Environment.Variables as Record<string, unknown>;
    const queues = JSON.stringify(variables.SLUICE_PRODUCER_QUEUES);
    const web = idOf(coordinator.producerQueues.web?.normal as never);
    const quotas = idOf(coordinator.producerQueues.quotas?.normal as never);
    expect(queues).toMatch(new RegExp(`web.*${web}.*QueueName.*quotas.*${quotas}.*QueueName`));
  });

  it("lets a producer's role send to its own queue only, and read only its own records and outputs", () => {
    const app = new Stack(testApp(), 'Grants');
    const sluice = new ThrottleCoordinator(app, 'Sluice', {
      config: testProducersConfig(),
      entry: STUB_ENTRY,
    });
    const webRole = new Role(app, 'WebProducer', { assumedBy: new AccountRootPrincipal() });
    sluice.grantSubmit('web', webRole);
    sluice.grantReadResults('web', webRole);
    const policies = Template.fromStack(app).findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^WebProducer') }] },
    });
    const statements = Object.values(policies).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>,
    );
    const webQueue = app.getLogicalId(
      sluice.producerQueues.web?.normal?.node.defaultChild as CfnQueue,
    );
    const table = app.getLogicalId(sluice.requestsTable.node.defaultChild as CfnQueue);
    const outputs = app.getLogicalId(sluice.outputsBucket.node.defaultChild as CfnQueue);
    expect(statements).toEqual([
      {
        Action: ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [webQueue, 'Arn'] },
      },
      {
        Action: 'dynamodb:GetItem',
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['web#*'] } },
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [table, 'Arn'] },
      },
      {
        // Its outputs too large for a record, under its own prefix only.
        Action: 's3:GetObject',
        Effect: 'Allow',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [outputs, 'Arn'] }, '/outputs/web/*']] },
      },
    ]);
    expect(() => sluice.grantSubmit('ghost', webRole)).toThrow(
      'ghost is not a producer of this coordinator (producers: web, quotas)',
    );
  });

  it('denies sending, receiving and deleting on the scheduled queue to every principal but the dispatcher role', () => {
    const dispatcherRole = stack.getLogicalId(
      coordinator.dispatcherRole.node.defaultChild as CfnRole,
    );
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: idOf(coordinator.scheduledQueue) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Sid: 'OnlyTheDispatcher',
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: [...SCHEDULED_QUEUE_DENIED_ACTIONS].sort(),
            Resource: { 'Fn::GetAtt': [idOf(coordinator.scheduledQueue), 'Arn'] },
            Condition: {
              ArnNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': [dispatcherRole, 'Arn'] } },
            },
          },
        ]),
      },
    });
  });

  it('gives the dispatcher no send on request queues: every re-send goes to the scheduled queue', () => {
    const requestQueues = Object.values(coordinator.queues).map(idOf);
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: {
        Roles: [
          { Ref: stack.getLogicalId(coordinator.dispatcherRole.node.defaultChild as CfnRole) },
        ],
      },
    });
    const sends = Object.values(policies)
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>)
      .filter((s) => actionsOf(s).includes('sqs:SendMessage'))
      .map((s) => JSON.stringify(s.Resource));
    expect(sends.length).toBeGreaterThan(0);
    for (const queue of requestQueues) expect(sends.join()).not.toContain(queue);
  });

  it("allows each producer in the own-account role its own entries only, by its session tag, with the entries' conditions", () => {
    const own = coordinator.ownAccountRole?.node.defaultChild as CfnRole;
    const role = template.toJSON().Resources[stack.getLogicalId(own)];
    const dispatcherRole = stack.getLogicalId(
      coordinator.dispatcherRole.node.defaultChild as CfnRole,
    );
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::GetAtt': [dispatcherRole, 'Arn'] } },
        Condition: {
          StringEquals: { 'aws:RequestTag/sluice-producer': ['web', 'quotas'] },
          'ForAllValues:StringEquals': { 'aws:TagKeys': ['sluice-producer'] },
        },
      },
    ]);
    const tagged = (name: string, extra: Record<string, unknown> = {}) => ({
      StringEquals: {
        'aws:PrincipalTag/sluice-producer': name,
        'aws:RequestedRegion': ['eu-west-1'],
        ...extra,
      },
    });
    expect(role.Properties.Policies[0].PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Sid: 'Producerweb0',
        Action: 'ec2:DescribeInstances',
        Condition: tagged('web'),
      }),
      expect.objectContaining({
        Sid: 'Producerweb1',
        Action: 'ec2:RunInstances',
        Condition: tagged('web', { 'aws:RequestTag/team': 'web' }),
      }),
      expect.objectContaining({
        Sid: 'Producerquotas0',
        Action: 'servicequotas:ListServiceQuotas',
        Condition: tagged('quotas'),
      }),
    ]);
  });
});
