import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  roleNameAndPath,
  SluiceMemberRole,
  SluiceMemberRolePropsError,
  SluiceMemberRoleStack,
} from '../../infra/member-role.js';
import { parseDeploymentConfig } from '../../shared/config/deployment.js';
import { testApp, testConfig, testProducersConfig } from './support.js';

const COORDINATOR_ROLE = 'arn:aws:iam::111111111111:role/Sluice-DispatcherRole-ABC';
const MEMBER = '222222222222';

describe('SluiceMemberRole', () => {
  const stack = new Stack(testApp(), 'Member');
  const config = parseDeploymentConfig({
    ...testProducersConfig(),
    producers: [
      ...(testProducersConfig().producers ?? []),
      {
        name: 'audit',
        allow: [
          { accounts: [MEMBER], regions: ['eu-west-1'], service: 'ec2', operations: ['Describe*'] },
        ],
      },
    ],
  });
  new SluiceMemberRole(stack, 'Member', {
    coordinatorRoleArn: COORDINATOR_ROLE,
    externalId: 'sluice-222222222222',
    account: MEMBER,
    producers: config.producers,
    roleName: 'SluiceMember',
  });
  const template = Template.fromStack(stack);

  it("trusts only the coordinator role, only with the ExternalId, and only in a session tagged with one of the account's producers", () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'SluiceMember',
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: ['sts:AssumeRole', 'sts:TagSession'],
            Effect: 'Allow',
            Principal: { AWS: COORDINATOR_ROLE },
            Condition: {
              StringEquals: {
                'aws:RequestTag/sluice-producer': ['web', 'audit'],
                'sts:ExternalId': 'sluice-222222222222',
              },
              'ForAllValues:StringEquals': { 'aws:TagKeys': ['sluice-producer'] },
            },
          },
        ],
      },
    });
  });

  it("allows each producer exactly its own entries for the account, by its session tag, under the entries' regions and conditions", () => {
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role?.Properties.Policies).toEqual([
      {
        PolicyName: 'SluiceProducers',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'Producerweb0',
              Effect: 'Allow',
              Action: 'ec2:TerminateInstances',
              Resource: '*',
              Condition: {
                StringEquals: {
                  'aws:PrincipalTag/sluice-producer': 'web',
                  'ec2:ResourceTag/team': 'web',
                },
              },
            },
            {
              Sid: 'Produceraudit0',
              Effect: 'Allow',
              Action: 'ec2:Describe*',
              Resource: '*',
              Condition: {
                StringEquals: {
                  'aws:PrincipalTag/sluice-producer': 'audit',
                  'aws:RequestedRegion': ['eu-west-1'],
                },
              },
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
        account: '333333333333',
        producers: config.producers,
      });
    expect(act).toThrow(SluiceMemberRolePropsError);
    expect(act).toThrow(
      [
        'invalid SluiceMemberRole props:',
        '  - externalId: must be 2 to 1224 characters (IAM limit)',
        '  - producers: none is allowed anything in account 333333333333',
      ].join('\n'),
    );
  });
});

describe('SluiceMemberRole for a tagging producer', () => {
  it('lets the session read tags back (DescribeTags) only for entries without resource conditions', () => {
    const stack = new Stack(testApp(), 'Tagging');
    const base = testProducersConfig();
    const config = parseDeploymentConfig({
      ...base,
      targets: base.targets.map((t) =>
        t.account === MEMBER
          ? { ...t, allow: [...t.allow, { service: 'ec2', operations: ['CreateTags'] }] }
          : t,
      ),
      producers: [
        {
          name: 'tagger',
          allow: [
            { accounts: [MEMBER], service: 'ec2', operations: ['CreateTags'] },
            {
              accounts: [MEMBER],
              service: 'ec2',
              operations: ['CreateTags'],
              conditions: { 'ec2:ResourceTag/team': 'web' },
            },
          ],
        },
      ],
    });
    new SluiceMemberRole(stack, 'Member', {
      coordinatorRoleArn: COORDINATOR_ROLE,
      externalId: 'sluice-222222222222',
      account: MEMBER,
      producers: config.producers,
    });
    const role = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Role'))[0];
    const session = { 'aws:PrincipalTag/sluice-producer': 'tagger' };

    expect(role?.Properties.Policies[0].PolicyDocument.Statement).toEqual([
      {
        Sid: 'Producertagger0',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: '*',
        Condition: { StringEquals: session },
      },
      {
        Sid: 'Producertagger0Check',
        Effect: 'Allow',
        Action: 'ec2:DescribeTags',
        Resource: '*',
        Condition: { StringEquals: session },
      },
      {
        Sid: 'Producertagger1',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: '*',
        Condition: { StringEquals: { ...session, 'ec2:ResourceTag/team': 'web' } },
      },
    ]);
  });
});

describe('SluiceMemberRoleStack', () => {
  const app = testApp();
  const config = parseDeploymentConfig(testConfig());
  const stack = new SluiceMemberRoleStack(app, 'SluiceMemberRole-222222222222', {
    target: config.targets[1] as (typeof config.targets)[number],
    producers: config.producers,
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
            Action: ['sts:AssumeRole', 'sts:TagSession'],
            Effect: 'Allow',
            Principal: { AWS: { Ref: 'CoordinatorRoleArn' } },
            Condition: Match.objectLike({
              StringEquals: {
                'aws:RequestTag/sluice-producer': ['default'],
                'sts:ExternalId': 'sluice-222222222222',
              },
            }),
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
          producers: [],
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
