import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  buildSluiceApp,
  ConfigFileError,
  memberStackId,
  readConfigFile,
} from '../../infra/sluice-app.js';
import { STUB_ENTRY, testApp, testConfig } from './support.js';

describe('buildSluiceApp', () => {
  it('adds the coordinator stack and one member-role stack per target with a role', () => {
    const app = testApp();
    const { coordinator, members } = buildSluiceApp(app, {
      config: testConfig(),
      coordinator: { entry: STUB_ENTRY },
      alarmTopicArn: 'arn:aws:sns:eu-west-1:111111111111:sluice-alarms',
      nag: false,
    });
    expect(coordinator.stackName).toBe('Sluice');
    expect(members.map((m) => m.stackName)).toEqual([memberStackId('222222222222')]);
    const template = Template.fromStack(coordinator);
    for (const output of [
      'QueueUrls',
      'DeadLetterQueueUrl',
      'RequestsTableName',
      'BucketsTableName',
      'DispatcherRoleArn',
      'DashboardUrl',
    ]) {
      template.hasOutput(output, {});
    }
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: ['arn:aws:sns:eu-west-1:111111111111:sluice-alarms'],
    });
  });

  it('warns, and synthesizes no member template, for a role without externalId', () => {
    const config = testConfig();
    const [own, member] = config.targets;
    const app = testApp();
    const { coordinator, members } = buildSluiceApp(app, {
      config: { ...config, targets: [own as never, { ...member, externalId: undefined } as never] },
      coordinator: { entry: STUB_ENTRY },
      nag: false,
    });
    expect(members).toEqual([]);
    const warnings = app
      .synth()
      .getStackArtifact(coordinator.artifactId)
      .messages.filter((m) => m.level === 'warning')
      .map((m) => String(m.entry.data));
    expect(
      warnings.some((w) => w.includes('target 222222222222 has a roleArn but no externalId')),
    ).toBe(true);
  });
});

describe('readConfigFile', () => {
  it('names the file it cannot read', () => {
    expect(() => readConfigFile('/nowhere/sluice.json')).toThrow(ConfigFileError);
    expect(() => readConfigFile('/nowhere/sluice.json')).toThrow(
      /^cannot read the Sluice config file \/nowhere\/sluice.json: ENOENT/,
    );
  });
});
