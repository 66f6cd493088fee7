import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, describe, expect, it } from 'vitest';
import { buildSluiceApp, DEFAULT_CONFIG_FILE, readConfigFile } from '../../infra/sluice-app.js';
import type { DeploymentConfigInput } from '../../shared/config/deployment.js';
import { CDK_CONTEXT, REPO, STUB_ENTRY, testConfig, testProducersConfig } from './support.js';

const outdirs: string[] = [];
function app(): App {
  const outdir = mkdtempSync(join(tmpdir(), 'sluice-nag-'));
  outdirs.push(outdir);
  return new App({ outdir, context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Report {
  pluginReports: Array<{ pluginName: string; violations: Array<{ ruleName: string }> }>;
}

/** Violations in the validation report of an assembly (none when there is no report). */
function violations(directory: string): string[] {
  const file = join(directory, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  return report.pluginReports.flatMap((r) =>
    r.violations.map((v) => `${r.pluginName}: ${v.ruleName}`),
  );
}

/** Every acknowledgement in the tree: construct path, rule id, reason. */
function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string | { reason: string }>).map(
          ([id, value]) => ({
            path: construct.node.path,
            // aws-cdk-lib records the id as `Annotation::<rule id>`.
            id: id.replace(/^annotation::/i, ''),
            reason: typeof value === 'string' ? value : value.reason,
          }),
        ),
      ),
  );
}

describe('cdk-nag (AwsSolutions and Serverless packs)', () => {
  it.each([
    [
      'the example config (infra/sluice.config.json)',
      () => readConfigFile(join(REPO, DEFAULT_CONFIG_FILE)),
    ],
    ['the test config', testConfig],
    ['two named producers with resource conditions', testProducersConfig],
    [
      'reply topics and queues with customer-managed keys',
      () => ({
        ...testConfig(),
        replyTo: [
          'arn:aws:sns:eu-west-1:111111111111:results',
          {
            destination: 'https://sqs.us-west-2.amazonaws.com/111111111111/results.fifo',
            kmsKeyArn:
              'arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
          },
          {
            destination: 'arn:aws:sns:eu-west-1:111111111111:encrypted-results',
            kmsKeyArn:
              'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ac',
          },
        ],
      }),
    ],
    [
      'wildcard operations in the own account',
      () => ({
        targets: [
          {
            account: '111111111111',
            allow: [
              { service: 'ec2', operations: ['Describe*', 'RunInstances'] },
              { service: 'service-quotas', operations: ['List*', 'Get*'] },
            ],
          },
        ],
      }),
    ],
  ])('finds nothing unacknowledged in the Sluice app with %s', (_name, config) => {
    const sluice = app();
    buildSluiceApp(sluice, {
      config: config() as DeploymentConfigInput,
      coordinator: { entry: STUB_ENTRY },
    });
    const assembly = sluice.synth();
    expect(violations(assembly.directory)).toEqual([]);
    const errors = assembly.stacks.flatMap((stack) =>
      stack.messages.filter((m) => m.level === 'error').map((m) => `${m.id}: ${m.entry.data}`),
    );
    expect(errors).toEqual([]);
  });

  it('gives every acknowledgement a specific reason', () => {
    const sluice = app();
    buildSluiceApp(sluice, { config: testConfig(), coordinator: { entry: STUB_ENTRY } });
    const acks = acknowledgements(sluice);
    expect(acks.map((a) => a.id)).toEqual(
      expect.arrayContaining([
        'AwsSolutions-L1',
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-IAM5[Action::ec2:Describe*]',
        'Serverless-LambdaTracing',
        'Serverless-LambdaEventSourceMappingDestination',
      ]),
    );
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThan(60);
    }
    // No blanket acknowledgement on the app or a stack: each sits on the resource it is about.
    for (const ack of acks) expect(ack.path.split('/').length).toBeGreaterThan(2);
  });

  it('checks every stack of the Sluice app: a careless stack added to it fails synthesis', () => {
    // The plugins come from buildSluiceApp itself; without them the tests above would find
    // no report, and so nothing, whatever the stacks hold.
    const sluice = app();
    buildSluiceApp(sluice, {
      config: testConfig() as DeploymentConfigInput,
      coordinator: { entry: STUB_ENTRY },
    });
    new Queue(new Stack(sluice, 'Careless'), 'Queue');
    let message = '';
    try {
      sluice.synth();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('AwsSolutions-SQS3');
  });

  it('reports findings on a deliberately careless stack (the check can fail)', () => {
    const careless = app();
    Validations.of(careless).addPlugins(
      new AwsSolutionsChecks(careless),
      new ServerlessChecks(careless),
    );
    const stack = new Stack(careless, 'Careless');
    new Queue(stack, 'Queue');
    new Table(stack, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    new LambdaFunction(stack, 'Fn', {
      runtime: Runtime.NODEJS_20_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => {};'),
    });
    let message = '';
    try {
      careless.synth();
    } catch (error) {
      message = (error as Error).message;
    }
    for (const rule of [
      'AwsSolutions-SQS3',
      'AwsSolutions-SQS4',
      'AwsSolutions-DDB3',
      'AwsSolutions-IAM4',
      'AwsSolutions-L1',
      'Serverless-SQSRedrivePolicy',
    ]) {
      expect(message).toContain(rule);
    }
  });
});
