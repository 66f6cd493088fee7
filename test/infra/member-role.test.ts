import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  roleNameAndPath,
  SluiceMemberRole,
  SluiceMemberRolePropsError,
  SluiceMemberRoleStack,
} from '../../infra/member-role.js';
import { MEMBER_ROLE_ARN, testApp } from './support.js';

const COORDINATOR_ROLE = 'arn:aws:iam::111111111111:role/Sluice-DispatcherRole-ABC';

describe('SluiceMemberRole', () => {
  const stack = new Stack(testApp(), 'Member');
  new SluiceMemberRole(stack, 'Member', {
    coordinatorRoleArn: COORDINATOR_ROLE,
    externalId: 'sluice-222222222222',
    allow: [
      { service: 'ec2', operations: ['Describe*', 'RunInstances'] },
      { service: 'service-quotas', operations: ['ListServiceQuotas'] },
    ],
    regions: ['eu-west-1'],
    roleName: 'SluiceMember',
  });
  const template = Template.fromStack(stack);

  it('trusts only the coordinator role, and only with the ExternalId', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'SluiceMember',
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { AWS: COORDINATOR_ROLE },
            Condition: { StringEquals: { 'sts:ExternalId': 'sluice-222222222222' } },
          },
        ],
      },
    });
  });

  it('allows exactly the allowlisted operations, in the allowed regions', () => {
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role?.Properties.Policies).toEqual([
      {
        PolicyName: 'SluiceAllowlist',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'SluiceAllowlistedOperations',
              Effect: 'Allow',
              Action: ['ec2:Describe*', 'ec2:RunInstances', 'servicequotas:ListServiceQuotas'],
              Resource: '*',
              Condition: { StringEquals: { 'aws:RequestedRegion': ['eu-west-1'] } },
            },
          ],
        },
      },
    ]);
    template.resourceCountIs('AWS::IAM::Policy', 0);
  });

  it('lists every invalid prop in one error', () => {
    const act = () =>
      new SluiceMemberRole(new Stack(testApp(), 'Bad'), 'Member', {
        coordinatorRoleArn: COORDINATOR_ROLE,
        externalId: 'x',
        allow: [{ service: 'lambda', operations: ['*'] }],
      });
    expect(act).toThrow(SluiceMemberRolePropsError);
    expect(act).toThrow(
      [
        'invalid SluiceMemberRole props:',
        '  - externalId: must be 2 to 1224 characters (IAM limit)',
        '  - allow[0].service: lambda is not a Sluice service (known: ec2, service-quotas)',
        '  - allow[0].operations[0]: * is not an operation name or prefix*',
      ].join('\n'),
    );
  });
});

describe('SluiceMemberRoleStack', () => {
  const app = testApp();
  const stack = new SluiceMemberRoleStack(app, 'SluiceMemberRole-222222222222', {
    target: {
      account: '222222222222',
      roleArn: MEMBER_ROLE_ARN,
      externalId: 'sluice-222222222222',
      allow: [{ service: 'ec2', operations: ['DescribeInstances'] }],
    },
  });
  const template = Template.fromStack(stack);

  it('takes the coordinator role ARN as a parameter and names the role after roleArn', () => {
    template.hasParameter('CoordinatorRoleArn', { Type: 'String' });
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'SluiceMember',
      Path: '/sluice/',
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { AWS: { Ref: 'CoordinatorRoleArn' } },
            Condition: { StringEquals: { 'sts:ExternalId': 'sluice-222222222222' } },
          },
        ],
      },
    });
  });

  it('deploys without CDK bootstrap: no BootstrapVersion parameter, no assets', () => {
    const json = template.toJSON() as { Parameters: Record<string, unknown>; Rules?: unknown };
    expect(Object.keys(json.Parameters)).toEqual(['CoordinatorRoleArn']);
    expect(json.Rules).toBeUndefined();
    expect(app.synth().getStackArtifact(stack.artifactId).assets).toEqual([]);
  });

  it('refuses a target without roleArn or externalId', () => {
    expect(
      () =>
        new SluiceMemberRoleStack(testApp(), 'X', {
          target: { account: '222222222222', allow: [{ service: 'ec2', operations: ['X'] }] },
        }),
    ).toThrow('target 222222222222: a member role needs roleArn and externalId in the config');
  });
});

describe('roleNameAndPath', () => {
  it('splits a role ARN into name and path', () => {
    expect(roleNameAndPath('arn:aws:iam::1:role/Name')).toEqual({ roleName: 'Name', path: '/' });
    expect(roleNameAndPath('arn:aws:iam::1:role/a/b/Name')).toEqual({
      roleName: 'Name',
      path: '/a/b/',
    });
  });
});
