/**
 * The CDK app (`cdk.json`: `npx tsx infra/app.ts`). Reads the deployment configuration from
 * `--context configFile=<path>` (default `infra/sluice.config.json`, relative to the directory
 * of `cdk.json`), and optionally an existing SNS topic for the alarms from
 * `--context alarmTopicArn=<arn>`. `--context dispatcherEntry=<path>` bundles another handler
 * module than functions/dispatcher/handler.ts (development).
 */
import { App } from 'aws-cdk-lib';
import type { DeploymentConfigInput } from '../shared/config/deployment.js';
import { buildSluiceApp, DEFAULT_CONFIG_FILE, readConfigFile } from './sluice-app.js';

const app = new App();
const configFile = String(app.node.tryGetContext('configFile') ?? DEFAULT_CONFIG_FILE);
const alarmTopicArn = app.node.tryGetContext('alarmTopicArn') as string | undefined;
const dispatcherEntry = app.node.tryGetContext('dispatcherEntry') as string | undefined;

buildSluiceApp(app, {
  // Validated by the construct, which lists every problem at once.
  config: readConfigFile(configFile) as DeploymentConfigInput,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  ...(alarmTopicArn !== undefined ? { alarmTopicArn } : {}),
  ...(dispatcherEntry !== undefined ? { coordinator: { entry: dispatcherEntry } } : {}),
});
