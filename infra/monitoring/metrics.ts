/**
 * Metric factories for the coordinator: the dispatcher's EMF metrics (names and dimensions from
 * shared/contract/metrics.ts) as CloudWatch Metrics Insights queries, and the L2 metrics of the
 * queues and the function. Dashboards (./dashboard.ts) and alarms (./alarms.ts) both build on
 * these, so a graph and the alarm beside it always show the same numbers.
 *
 * Why Metrics Insights rather than SEARCH or fixed-dimension metrics: the dispatcher emits one
 * time series per (Service, Bucket, Region), which the deployment cannot enumerate, and an
 * alarm cannot use SEARCH. A query like `SELECT SUM(ProviderThrottles) FROM Sluice` aggregates
 * every series, works in alarms, and does not depend on extra default dimensions a metrics
 * library may add (Powertools adds `service`). Graphs reach two weeks back; alarms evaluate the
 * last three hours. https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-limits.html
 */
import { Duration } from 'aws-cdk-lib';
import { MathExpression, type Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import {
  type DimensionName,
  METRIC_NAMESPACE,
  METRICS,
  type MetricName,
} from '../../shared/contract/metrics.js';

/** The period every Sluice graph and alarm uses unless it says otherwise. */
export const DEFAULT_PERIOD = Duration.minutes(1);

/** An aggregate of Metrics Insights. */
export type InsightsFunction = 'SUM' | 'AVG' | 'MAX' | 'MIN' | 'COUNT';

/** What to query: a Sluice metric, aggregated, grouped and filtered by its dimensions. */
export interface SluiceQuery {
  readonly metric: MetricName;
  readonly aggregate: InsightsFunction;
  /** Dimensions to keep apart; the rest are summed. @default - one series for all */
  readonly groupBy?: readonly DimensionName[];
  /** Exact dimension values to keep. @default - no filter */
  readonly where?: Readonly<Partial<Record<DimensionName, string>>>;
  /** @default DEFAULT_PERIOD */
  readonly period?: Duration;
  /** @default - grouped: CloudWatch labels each series by its group; else the metric name */
  readonly label?: string;
}

/** A single-quoted Metrics Insights string literal. */
function literal(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/** The Metrics Insights query text of a {@link SluiceQuery}. */
export function insightsQuery(query: SluiceQuery): string {
  const where = Object.entries(query.where ?? {}).map(
    ([dimension, value]) => `${dimension} = ${literal(value as string)}`,
  );
  return [
    `SELECT ${query.aggregate}(${query.metric}) FROM ${METRIC_NAMESPACE}`,
    where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
    query.groupBy !== undefined && query.groupBy.length > 0
      ? `GROUP BY ${query.groupBy.join(', ')}`
      : '',
  ]
    .filter((part) => part !== '')
    .join(' ');
}

/** A Sluice metric as a Metrics Insights expression, usable in graphs and alarms. */
export function sluiceMetric(query: SluiceQuery): MathExpression {
  return new MathExpression({
    expression: insightsQuery(query),
    usingMetrics: {},
    period: query.period ?? DEFAULT_PERIOD,
    // An empty label lets CloudWatch name each series by its group (`ec2 RunInstances eu-west-1`);
    // CDK would otherwise label them all with the query text.
    label: query.label ?? ((query.groupBy ?? []).length > 0 ? '' : query.metric),
  });
}

/** Calls admitted per minute, one series per bucket and region. */
export function admittedCallsByBucket(): MathExpression {
  return sluiceMetric({
    metric: METRICS.AdmittedCalls,
    aggregate: 'SUM',
    groupBy: ['Service', 'Bucket', 'Region'],
  });
}

/** Calls admitted per minute by one bucket, one series per region. */
export function admittedCallsOfBucket(service: string, bucket: string): MathExpression {
  return sluiceMetric({
    metric: METRICS.AdmittedCalls,
    aggregate: 'SUM',
    where: { Service: service, Bucket: bucket },
    groupBy: ['Region'],
  });
}

/** Calls deferred because their bucket was full, per minute, by bucket. */
export function notAdmittedByBucket(): MathExpression {
  return sluiceMetric({
    metric: METRICS.NotAdmitted,
    aggregate: 'SUM',
    groupBy: ['Service', 'Bucket', 'Region'],
  });
}

/** Calls providers throttled although admitted, per minute, by bucket. */
export function providerThrottlesByBucket(): MathExpression {
  return sluiceMetric({
    metric: METRICS.ProviderThrottles,
    aggregate: 'SUM',
    groupBy: ['Service', 'Bucket', 'Region'],
  });
}

/** All provider throttles together, over `period`: what the throttle alarm watches. */
export function providerThrottlesTotal(period: Duration): MathExpression {
  return sluiceMetric({
    metric: METRICS.ProviderThrottles,
    aggregate: 'SUM',
    period,
    label: 'Provider throttles (all buckets)',
  });
}

/** Messages re-sent with a delay, per minute, by service. */
export function requeuedByService(): MathExpression {
  return sluiceMetric({ metric: METRICS.Requeued, aggregate: 'SUM', groupBy: ['Service'] });
}

/** The delay re-sent messages were given (seconds), by service. */
export function requeueDelay(aggregate: 'AVG' | 'MAX'): MathExpression {
  return sluiceMetric({
    metric: METRICS.RequeueDelaySeconds,
    aggregate,
    groupBy: ['Service'],
  });
}

/** Requests that ended, per minute, by service and status. */
export function resultsByStatus(): MathExpression {
  return sluiceMetric({
    metric: METRICS.Results,
    aggregate: 'SUM',
    groupBy: ['Service', 'Status'],
  });
}

/** Messages rejected for breaking the contract, per minute. */
export function rejected(): MathExpression {
  return sluiceMetric({ metric: METRICS.Rejected, aggregate: 'SUM', label: 'Rejected messages' });
}

/** Conditional writes to the buckets table against admitted calls: the batching gain. */
export function admissionWrites(): MathExpression {
  return sluiceMetric({
    metric: METRICS.AdmissionWrites,
    aggregate: 'SUM',
    label: 'Admission writes (DynamoDB)',
  });
}

/**
 * Each bucket's learned rate against its configured one (%, 100: not slowed): the lowest in the
 * period, so a slow-down shows.
 */
export function effectiveRateByBucket(): MathExpression {
  return sluiceMetric({
    metric: METRICS.EffectiveRatePercent,
    aggregate: 'MIN',
    groupBy: ['Service', 'Bucket', 'Region'],
  });
}

/** How long requests waited from first receipt to their call (ms), by priority level. */
export function waitTimeByPriority(aggregate: 'AVG' | 'MAX'): MathExpression {
  return sluiceMetric({ metric: METRICS.WaitTimeMs, aggregate, groupBy: ['Priority'] });
}

/**
 * Requests finished with the output of an identical read's call (single-flight), per minute, by
 * service: provider calls and tokens saved.
 */
export function coalescedByService(): MathExpression {
  return sluiceMetric({ metric: METRICS.CoalescedCalls, aggregate: 'SUM', groupBy: ['Service'] });
}

/** Requests finished with a cached output, per minute, by service: calls and tokens saved. */
export function cachedByService(): MathExpression {
  return sluiceMetric({ metric: METRICS.CachedCalls, aggregate: 'SUM', groupBy: ['Service'] });
}

/** Wall time of provider calls, by service. */
export function callDuration(aggregate: 'AVG' | 'MAX'): MathExpression {
  return sluiceMetric({
    metric: METRICS.CallDurationMs,
    aggregate,
    groupBy: ['Service'],
  });
}

/** Age of the oldest message of a queue, in seconds (the L2 helper, maximum per period). */
export function oldestMessageAge(queue: IQueue, label: string): Metric {
  return queue.metricApproximateAgeOfOldestMessage({
    statistic: 'Maximum',
    period: DEFAULT_PERIOD,
    label,
  });
}

/** Messages waiting in a queue (visible), maximum per period. */
export function visibleMessages(queue: IQueue, label: string): Metric {
  return queue.metricApproximateNumberOfMessagesVisible({
    statistic: 'Maximum',
    period: DEFAULT_PERIOD,
    label,
  });
}

/** The dispatcher's own health, from the function's L2 metrics. */
export function dispatcherMetrics(fn: IFunction): {
  readonly invocations: Metric;
  readonly errors: Metric;
  readonly throttles: Metric;
  readonly durationP50: Metric;
  readonly durationP99: Metric;
  readonly durationMax: Metric;
  readonly concurrency: Metric;
} {
  const period = DEFAULT_PERIOD;
  return {
    invocations: fn.metricInvocations({ period, statistic: 'Sum', label: 'Invocations' }),
    errors: fn.metricErrors({ period, statistic: 'Sum', label: 'Errors' }),
    throttles: fn.metricThrottles({ period, statistic: 'Sum', label: 'Throttles' }),
    durationP50: fn.metricDuration({ period, statistic: 'p50', label: 'Duration p50' }),
    durationP99: fn.metricDuration({ period, statistic: 'p99', label: 'Duration p99' }),
    durationMax: fn.metricDuration({ period, statistic: 'Maximum', label: 'Duration max' }),
    concurrency: fn.metric('ConcurrentExecutions', {
      period,
      statistic: 'Maximum',
      label: 'Concurrent executions',
    }),
  };
}
