/**
 * The coordinator's alarms, built from the metric factories in ./metrics.ts. Each alarm says in
 * its description what it means and what to look at first. All notify `topic` when given.
 */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  dispatcherMetrics,
  oldestMessageAge,
  providerThrottlesTotal,
  visibleMessages,
} from './metrics.js';

/** What the alarms watch and when they fire. */
export interface CoordinatorAlarmsProps {
  /** The request queues by label (a priority, or `producer-<name>`). */
  readonly queues: Readonly<Record<string, IQueue>>;
  readonly dlq: IQueue;
  readonly dispatcher: IFunction;
  /** Oldest-message alarm threshold. */
  readonly oldestMessageAgeThreshold: Duration;
  /** Provider throttles per 5 minutes, all buckets together. */
  readonly providerThrottlesThreshold: number;
  /** Notified on ALARM and on OK. @default - no actions */
  readonly topic?: ITopic;
}

/** The alarms of one coordinator. */
export class CoordinatorAlarms extends Construct {
  /** A message reached the dead-letter queue. */
  readonly dlqNotEmpty: Alarm;
  /** One per request queue: its oldest message waited too long. */
  readonly oldestMessageTooOld: Readonly<Record<string, Alarm>>;
  /** Providers throttled many admitted calls: limits set too high, or other clients share them. */
  readonly providerThrottles: Alarm;
  /** The dispatcher failed whole invocations. */
  readonly dispatcherErrors: Alarm;
  /** Every alarm above. */
  readonly all: readonly Alarm[];

  constructor(scope: Construct, id: string, props: CoordinatorAlarmsProps) {
    super(scope, id);

    this.dlqNotEmpty = new Alarm(this, 'DlqNotEmpty', {
      alarmDescription:
        'Sluice: a request reached the dead-letter queue (poison message, attempts or deadline ' +
        'exhausted, or repeated dispatcher crashes). Each message carries the reason.',
      metric: visibleMessages(props.dlq, 'Messages in the DLQ'),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const oldest: Record<string, Alarm> = {};
    for (const [priority, queue] of Object.entries(props.queues)) {
      oldest[priority] = new Alarm(this, `OldestMessage-${priority}`, {
        alarmDescription:
          `Sluice: the oldest message of the ${priority} request queue is older than ` +
          `${props.oldestMessageAgeThreshold.toHumanString()}: dispatchers are not keeping up ` +
          '(max concurrency, errors) or are not running.',
        metric: oldestMessageAge(queue, `Oldest ${priority} message`),
        threshold: props.oldestMessageAgeThreshold.toSeconds(),
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }
    this.oldestMessageTooOld = oldest;

    this.providerThrottles = new Alarm(this, 'ProviderThrottles', {
      alarmDescription:
        `Sluice: providers throttled ${props.providerThrottlesThreshold} or more admitted calls ` +
        'in 5 minutes. Other clients share the account limits, or a configured limit is above ' +
        "the account's: lower it or the safety factor (see the ProviderThrottles graph by bucket).",
      metric: providerThrottlesTotal(Duration.minutes(5)),
      threshold: props.providerThrottlesThreshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    this.dispatcherErrors = new Alarm(this, 'DispatcherErrors', {
      alarmDescription:
        'Sluice: the dispatcher function failed invocations (uncaught errors, timeouts). ' +
        'Per-message failures are reported as partial batch failures and do not count here; ' +
        "see the function's log group.",
      metric: dispatcherMetrics(props.dispatcher).errors.with({ period: Duration.minutes(5) }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    this.all = [
      this.dlqNotEmpty,
      ...Object.values(this.oldestMessageTooOld),
      this.providerThrottles,
      this.dispatcherErrors,
    ];
    if (props.topic !== undefined) {
      const action: IAlarmAction = new SnsAction(props.topic);
      for (const alarm of this.all) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }
}
