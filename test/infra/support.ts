/**
 * Shared set-up of the infra tests: the same context `cdk.json` gives the CLI (an in-memory
 * `App` does not read `cdk.json`), bundling skipped, and a stand-in handler entry.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import {
  ThrottleCoordinator,
  type ThrottleCoordinatorProps,
} from '../../infra/throttle-coordinator.js';
import type { DeploymentConfigInput } from '../../shared/config/deployment.js';

/** The repository root. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The `context` of cdk.json. */
export const CDK_CONTEXT: Record<string, unknown> = (
  JSON.parse(readFileSync(`${REPO}/cdk.json`, 'utf8')) as { context: Record<string, unknown> }
).context;

/** Template tests never bundle: NodejsFunction only checks that this entry exists. */
export const STUB_ENTRY = fileURLToPath(new URL('./fixtures/dispatcher-stub.ts', import.meta.url));

/** A member account reached through a role, and the own account. */
export const MEMBER_ROLE_ARN = 'arn:aws:iam::222222222222:role/sluice/SluiceMember';
export const REPLY_QUEUE_URL =
  'https://sqs.eu-west-1.amazonaws.com/111111111111/provisioner-results';

/** A deployment config with an own-account target and a member target. */
export function testConfig(): DeploymentConfigInput {
  return {
    targets: [
      {
        account: '111111111111',
        regions: ['eu-west-1'],
        allow: [
          { service: 'ec2', operations: ['DescribeInstances', 'RunInstances'] },
          { service: 'service-quotas', operations: ['ListServiceQuotas'] },
        ],
      },
      {
        account: '222222222222',
        roleArn: MEMBER_ROLE_ARN,
        externalId: 'sluice-222222222222',
        allow: [{ service: 'ec2', operations: ['Describe*', 'TerminateInstances'] }],
      },
    ],
    replyTo: [REPLY_QUEUE_URL],
    limits: {
      safetyFactor: 0.8,
      overrides: [{ service: 'ec2', bucket: 'RunInstances', rate: 4, burst: 10 }],
    },
  };
}

/** A new App with cdk.json's context and bundling skipped. */
export function testApp(extraContext: Record<string, unknown> = {}): App {
  return new App({
    context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], ...extraContext },
  });
}

/** A stack with one coordinator (stub entry unless given), and its template. */
export function coordinatorTemplate(
  props: Partial<ThrottleCoordinatorProps> = {},
  stackProps: { env?: { account?: string; region?: string } } = {},
): { template: Template; coordinator: ThrottleCoordinator; stack: Stack } {
  const stack = new Stack(testApp(), 'Test', stackProps);
  const coordinator = new ThrottleCoordinator(stack, 'Sluice', {
    config: testConfig(),
    entry: STUB_ENTRY,
    ...props,
  });
  return { template: Template.fromStack(stack), coordinator, stack };
}

/** Every IAM policy statement of a template, from policies and roles' inline policies. */
export function policyStatements(template: Template): Array<Record<string, unknown>> {
  const statements: Array<Record<string, unknown>> = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    statements.push(
      ...(policy.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>),
    );
  }
  for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
    for (const inline of (role.Properties.Policies ?? []) as Array<{
      PolicyDocument: { Statement: Array<Record<string, unknown>> };
    }>) {
      statements.push(...inline.PolicyDocument.Statement);
    }
  }
  return statements;
}

/** A statement's actions as a list. */
export function actionsOf(statement: Record<string, unknown>): string[] {
  const action = statement.Action;
  return Array.isArray(action) ? (action as string[]) : [action as string];
}

/** The statements of the dispatcher role's own policy. */
export function dispatcherStatements({
  template,
  coordinator,
  stack,
}: ReturnType<typeof coordinatorTemplate>): Array<Record<string, unknown>> {
  const role = stack.getLogicalId(coordinator.dispatcherRole.node.defaultChild as CfnRole);
  return Object.values(
    template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } }),
  ).flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>);
}

/** {@link testConfig} with two producers: `web` (EC2 in both accounts) and `quotas`. */
export function testProducersConfig(): DeploymentConfigInput {
  return {
    ...testConfig(),
    producers: [
      {
        name: 'web',
        allow: [
          { accounts: ['111111111111'], service: 'ec2', operations: ['DescribeInstances'] },
          {
            accounts: ['111111111111'],
            service: 'ec2',
            operations: ['RunInstances'],
            conditions: { 'aws:RequestTag/team': 'web' },
          },
          {
            accounts: ['222222222222'],
            service: 'ec2',
            operations: ['TerminateInstances'],
            conditions: { 'ec2:ResourceTag/team': 'web' },
          },
        ],
        replyTo: [REPLY_QUEUE_URL],
      },
      {
        name: 'quotas',
        allow: [
          {
            accounts: ['111111111111'],
            service: 'service-quotas',
            operations: ['ListServiceQuotas'],
          },
        ],
      },
    ],
  };
}
