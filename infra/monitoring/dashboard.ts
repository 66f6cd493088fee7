/**
 * Widget factories and the coordinator's dashboard. Each widget holds at most one Metrics
 * Insights query (a CloudWatch limit per GetMetricData call); the limits drawn on the per-bucket
 * graphs come from ./bucket-limits.ts.
 */
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IAlarm,
  type IMetric,
  type IWidget,
  LegendPosition,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { BucketLimits } from './bucket-limits.js';
import {
  admissionWrites,
  admittedCallsByBucket,
  admittedCallsOfBucket,
  cachedByService,
  callDuration,
  coalescedByService,
  dispatcherMetrics,
  effectiveRateByBucket,
  notAdmittedByBucket,
  oldestMessageAge,
  providerThrottlesByBucket,
  rejected,
  requeueDelay,
  requeuedByService,
  resultsByStatus,
  visibleMessages,
  waitTimeByPriority,
} from './metrics.js';

/** Full dashboard width, in grid units. */
const FULL = 24;
const HALF = 12;
const THIRD = 8;
const HEIGHT = 6;

/** A line graph of one or two metric sets. */
export function graph(
  title: string,
  left: readonly IMetric[],
  options: {
    readonly right?: readonly IMetric[];
    readonly width?: number;
    readonly leftLabel?: string;
    readonly rightLabel?: string;
    readonly leftAnnotations?: readonly HorizontalAnnotation[];
  } = {},
): GraphWidget {
  return new GraphWidget({
    title,
    left: [...left],
    right: options.right === undefined ? [] : [...options.right],
    width: options.width ?? HALF,
    height: HEIGHT,
    legendPosition: LegendPosition.BOTTOM,
    ...(options.leftLabel !== undefined
      ? { leftYAxis: { label: options.leftLabel, showUnits: false, min: 0 } }
      : { leftYAxis: { min: 0 } }),
    ...(options.rightLabel !== undefined
      ? { rightYAxis: { label: options.rightLabel, showUnits: false, min: 0 } }
      : {}),
    ...(options.leftAnnotations !== undefined
      ? { leftAnnotations: [...options.leftAnnotations] }
      : {}),
  });
}

/** A limit for a label: floats such as 0.3 × 0.8 print as 0.24, not 0.24000000000000002. */
function num(value: number): string {
  return String(Number(value.toPrecision(6)));
}

/** The most calls a bucket may admit in any minute (`burst + 60·rate`), and its sustained rate. */
export function limitAnnotations(limits: BucketLimits): HorizontalAnnotation[] {
  const several = limits.limits.length > 1;
  return limits.limits.flatMap((limit) => {
    const where = several ? ` (${limit.appliesTo.join(', ')})` : '';
    return [
      {
        value: limit.burst + 60 * limit.rate,
        label: `most in 1 min: burst ${limit.burst} + 60 × ${num(limit.rate)}/s${where}`,
        color: '#d62728',
      },
      {
        value: 60 * limit.rate,
        label: `sustained: 60 × ${num(limit.rate)}/s${where}`,
        color: '#ff7f0e',
      },
    ];
  });
}

/** Admitted calls of one bucket per minute against its limit. */
export function bucketAgainstLimitWidget(limits: BucketLimits): GraphWidget {
  return graph(
    `${limits.service} ${limits.bucket}: admitted per minute vs limit`,
    [admittedCallsOfBucket(limits.service, limits.bucket)],
    { width: THIRD, leftLabel: 'calls / min', leftAnnotations: limitAnnotations(limits) },
  );
}

/** What the dashboard shows. */
export interface CoordinatorDashboardProps {
  /** Work queues by label: the request queues (by priority or producer), the scheduled queue. */
  readonly queues: Readonly<Record<string, IQueue>>;
  readonly dlq: IQueue;
  readonly dispatcher: IFunction;
  /** Buckets drawn against their limits, one graph each. */
  readonly buckets: readonly BucketLimits[];
  /** Shown as a status strip at the top. */
  readonly alarms: readonly IAlarm[];
  /** At most this many per-bucket graphs (a dashboard holds at most 500 widgets). @default 24 */
  readonly maxBucketGraphs?: number;
}

/** The coordinator's CloudWatch dashboard. */
export class CoordinatorDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: CoordinatorDashboardProps) {
    super(scope, id);
    const queues = Object.entries(props.queues) as [string, IQueue][];
    const fn = dispatcherMetrics(props.dispatcher);
    const maxBucketGraphs = props.maxBucketGraphs ?? 24;
    const shown = props.buckets.slice(0, maxBucketGraphs);

    const rows: IWidget[][] = [
      [
        new TextWidget({
          markdown: [
            '# Sluice throttle coordinator',
            'Admission per bucket (one series per service, bucket and region; the accounts of a ' +
              'region are summed, while each account has its own provider bucket), what ' +
              'providers still throttled, re-queues, results, queues and the dispatcher, and ' +
              'the reads that shared a call or came from the cache instead of calling. ' +
              'Sluice metrics are Metrics Insights queries over the `Sluice` namespace.',
            props.buckets.length > shown.length
              ? `Per-bucket graphs: the first ${shown.length} of ${props.buckets.length} buckets.`
              : '',
          ].join('\n\n'),
          width: FULL,
          height: 3,
        }),
      ],
      [
        new AlarmStatusWidget({
          title: 'Alarms',
          alarms: [...props.alarms],
          width: FULL,
          height: 3,
        }),
      ],
      [
        graph('Admitted calls per minute, by bucket', [admittedCallsByBucket()], {
          leftLabel: 'calls / min',
        }),
        graph('Not admitted yet (deferred) per minute, by bucket', [notAdmittedByBucket()], {
          leftLabel: 'calls / min',
        }),
      ],
      shown.map((bucket) => bucketAgainstLimitWidget(bucket)),
      [
        graph('Provider throttles per minute, by bucket', [providerThrottlesByBucket()], {
          leftLabel: 'throttled / min',
        }),
        graph('Results per minute, by service and status', [resultsByStatus()], {
          leftLabel: 'requests / min',
        }),
      ],
      [
        graph('Re-queued messages per minute', [requeuedByService()], {
          width: THIRD,
          leftLabel: 'messages / min',
        }),
        graph('Re-queue delay, average (s)', [requeueDelay('AVG')], {
          width: THIRD,
          leftLabel: 'seconds',
        }),
        graph('Re-queue delay, maximum (s)', [requeueDelay('MAX')], {
          width: THIRD,
          leftLabel: 'seconds',
        }),
      ],
      [
        graph(
          'Age of the oldest message (s)',
          queues.map(([priority, queue]) => oldestMessageAge(queue, priority)),
          { width: THIRD, leftLabel: 'seconds' },
        ),
        graph(
          'Messages waiting',
          queues.map(([priority, queue]) => visibleMessages(queue, priority)),
          { width: THIRD, leftLabel: 'messages' },
        ),
        graph('Dead-letter queue depth', [visibleMessages(props.dlq, 'DLQ')], {
          width: THIRD,
          leftLabel: 'messages',
        }),
      ],
      [
        graph(
          'Dispatcher invocations, errors, throttles',
          [fn.invocations, fn.errors, fn.throttles],
          {
            width: THIRD,
          },
        ),
        graph('Dispatcher duration (ms)', [fn.durationP50, fn.durationP99, fn.durationMax], {
          width: THIRD,
          leftLabel: 'ms',
        }),
        graph('Dispatcher concurrent executions', [fn.concurrency], { width: THIRD }),
      ],
      [
        graph('Provider call duration, average (ms)', [callDuration('AVG')], {
          width: THIRD,
          leftLabel: 'ms',
        }),
        graph('Admission writes per minute (compare with admitted calls)', [admissionWrites()], {
          width: THIRD,
          leftLabel: 'writes / min',
        }),
        graph('Rejected messages per minute', [rejected()], { width: THIRD }),
      ],
      [
        graph(
          'Learned rate vs configured, by bucket (%; 100 = not slowed)',
          [effectiveRateByBucket()],
          {
            width: THIRD,
            leftLabel: '% of configured rate',
          },
        ),
        graph('Wait per priority level, average (ms)', [waitTimeByPriority('AVG')], {
          width: THIRD,
          leftLabel: 'ms',
        }),
        graph('Wait per priority level, maximum (ms)', [waitTimeByPriority('MAX')], {
          width: THIRD,
          leftLabel: 'ms',
        }),
      ],
      [
        graph(
          'Reads answered by an identical call in flight (coalesced) per minute',
          [coalescedByService()],
          { leftLabel: 'requests / min' },
        ),
        graph('Reads answered from the cache per minute', [cachedByService()], {
          leftLabel: 'requests / min',
        }),
      ],
    ];

    this.dashboard = new Dashboard(this, 'Dashboard', {
      widgets: rows.filter((row) => row.length > 0),
    });
  }
}
