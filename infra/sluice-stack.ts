/**
 * The coordinator's stack: one {@link ThrottleCoordinator} and the outputs an operator needs —
 * queue URLs for producers and the CLI, the table names, the dispatcher role ARN the member
 * accounts trust, and where the dashboard is.
 */
import { Aws, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { DEFAULT_PRODUCER } from '../shared/contract/patterns.js';
import { ThrottleCoordinator, type ThrottleCoordinatorProps } from './throttle-coordinator.js';

/** Construction properties of {@link SluiceStack}. */
export interface SluiceStackProps extends StackProps {
  /** The coordinator's props: the deployment configuration and tuning. */
  readonly coordinator: ThrottleCoordinatorProps;
  /**
   * An existing SNS topic the alarms notify (when `coordinator.alarmTopic` is not given).
   * @default - no notifications
   */
  readonly alarmTopicArn?: string;
}

/**
 * A stack holding the Sluice coordinator.
 *
 * @example
 * new SluiceStack(app, 'Sluice', { coordinator: { config } });
 */
export class SluiceStack extends Stack {
  /** The coordinator. */
  readonly coordinator: ThrottleCoordinator;

  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    const { coordinator, alarmTopicArn, ...stackProps } = props;
    super(scope, id, {
      description: 'Sluice: serverless throttle coordinator for AWS API calls',
      ...stackProps,
    });
    const alarmTopic =
      coordinator.alarmTopic ??
      (alarmTopicArn !== undefined
        ? Topic.fromTopicArn(this, 'AlarmTopic', alarmTopicArn)
        : undefined);
    this.coordinator = new ThrottleCoordinator(this, 'Coordinator', {
      ...coordinator,
      ...(alarmTopic !== undefined ? { alarmTopic } : {}),
    });
    const c = this.coordinator;

    const own = c.producerQueues[DEFAULT_PRODUCER];
    if (c.settings.config.implicitProducer && own !== undefined) {
      new CfnOutput(this, 'QueueUrls', {
        value: this.toJsonString(
          Object.fromEntries(Object.entries(own).map(([p, q]) => [p, q.queueUrl])),
        ),
        description: 'Request queue URLs by priority: export as SLUICE_QUEUE_URLS for the CLI',
      });
    } else {
      new CfnOutput(this, 'ProducerQueueUrls', {
        value: this.toJsonString(
          Object.fromEntries(
            Object.entries(c.producerQueues).map(([p, q]) => [p, q.normal?.queueUrl]),
          ),
        ),
        description:
          "Each producer's request queue URL: a producer exports its own as SLUICE_QUEUE_URL, and its name as SLUICE_PRODUCER",
      });
    }
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: c.dlq.queueUrl });
    new CfnOutput(this, 'RequestsTableName', {
      value: c.requestsTable.tableName,
      description: 'Export as SLUICE_REQUESTS_TABLE for `sluice result`',
    });
    new CfnOutput(this, 'BucketsTableName', { value: c.bucketsTable.tableName });
    new CfnOutput(this, 'DispatcherRoleArn', {
      value: c.dispatcherRole.roleArn,
      description: 'Member-account roles trust this role (CoordinatorRoleArn parameter)',
    });
    new CfnOutput(this, 'DashboardUrl', {
      value: Fn.join('', [
        'https://console.aws.amazon.com/cloudwatch/home?region=',
        Aws.REGION,
        '#dashboards:name=',
        c.dashboard.dashboardName,
      ]),
    });
  }
}
