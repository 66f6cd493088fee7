/**
 * The props of {@link ThrottleCoordinator}: their types, their defaults, and their validation,
 * merged in one place (defaults → caller) so the construct body only reads resolved values.
 *
 * Validation reports every problem at once, the deployment configuration's own problems
 * included, so a synth that fails tells the operator everything to fix in one go.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { parseSnsTopicArn, type SnsTopicRef } from '../shared/aws/sns-arn.js';
import { parseSqsQueueUrl, type SqsQueueRef } from '../shared/aws/sqs-url.js';
import {
  type DeploymentConfig,
  DeploymentConfigError,
  type DeploymentConfigInput,
  parseDeploymentConfig,
} from '../shared/config/deployment.js';
import { PRIORITIES, type Priority } from '../shared/contract/request.js';
import { DISPATCHER_BASE_MEMORY_MIB, OUTPUT_COPIES_IN_MEMORY } from '../shared/contract/sizes.js';
import { invocationNeedsMs } from '../shared/dispatch/run-call.js';
import { SERVICES } from '../shared/services/registry.js';

/** The repository root: `infra/..`. Default paths are resolved from here, not from the cwd. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the dispatcher's handler lives unless `entry` says otherwise. */
export const DEFAULT_DISPATCHER_ENTRY = resolve(REPO_ROOT, 'functions/dispatcher/handler.ts');

/** Longest SQS batching window Lambda accepts (event source mappings for SQS). */
const MAX_BATCHING_WINDOW_SECONDS = 300;
/** Lambda's own bounds on an SQS event source's maximum concurrency. */
const MIN_MAX_CONCURRENCY = 2;
const MAX_MAX_CONCURRENCY = 1000;
/** SQS accepts batch sizes up to 10 without a batching window and 10,000 with one. */
const MAX_BATCH_SIZE_WITHOUT_WINDOW = 10;
const MAX_BATCH_SIZE = 10_000;
/** SQS's longest visibility timeout (12 h). */
const MAX_VISIBILITY_SECONDS = 43_200;
/**
 * AWS: set the source queue's visibility timeout to at least six times the function timeout,
 * so a batch retried after throttling is not redelivered while still in flight.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/** Construction properties of {@link ThrottleCoordinator}. */
export interface ThrottleCoordinatorProps {
  /**
   * The deployment configuration: targets (account, regions, role, `ExternalId`, allowlist of
   * (service, operation)), allowed `replyTo` queues and topics (with their KMS keys), limits and
   * overrides, dispatcher tuning.
   * Validated at synth time by the same parser the dispatcher uses at cold start, and shipped
   * inside the function bundle as `sluice-config.json`.
   */
  readonly config: DeploymentConfigInput;

  /**
   * The priorities that get their own request queue, for a deployment that names no producers
   * (`config.producers`); named producers get one queue each, serving every priority (priority
   * orders admission). `normal` is required: producers send requests of a priority without a
   * queue to `normal`'s.
   * @default ['high', 'normal', 'low']
   */
  readonly priorities?: readonly Priority[];

  /**
   * Messages per dispatcher invocation (SQS event source batch size). One admission write can
   * admit a whole batch, so larger batches mean fewer DynamoDB writes per call.
   * Above 10 a `maxBatchingWindow` is required. The scheduled queue's batches stay at 10 at most.
   * @default 10
   */
  readonly batchSize?: number;

  /**
   * How long the request queues' event sources wait to fill a batch (at most 5 minutes). Adds
   * at most this much latency to a lone request, and lets busy queues arrive in full batches.
   * The scheduled queue has none: its messages are due.
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * Most dispatcher invocations running at once for each request queue and for the scheduled
   * queue (2-1000): the SQS event source's maximum concurrency. Provider limits, not Lambda, set
   * the pace, so a few dispatchers suffice.
   * @default 10
   */
  readonly maxConcurrency?: number;

  /**
   * The dispatcher's timeout. The request queues' visibility timeout is six times this.
   * @default Duration.seconds(60)
   */
  readonly functionTimeout?: Duration;

  /**
   * The dispatcher's memory in MiB (128-10240); CPU is proportional to it.
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Retention of the dispatcher's log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;

  /**
   * SNS topic every alarm notifies (on ALARM and back to OK).
   * @default - alarms are created without actions
   */
  readonly alarmTopic?: ITopic;

  /**
   * Receives of one message before SQS moves it to the dead-letter queue. Re-queued requests
   * are new messages, so this counts crashes and timeouts of one delivery, not waits.
   * @default 5
   */
  readonly maxReceiveCount?: number;

  /**
   * The alarm on a request queue fires when its oldest message is older than this. Requests
   * re-queued with a delay (up to 15 minutes, SQS's longest) are young again each time.
   * @default Duration.minutes(30)
   */
  readonly oldestMessageAgeThreshold?: Duration;

  /**
   * The provider-throttle alarm fires when the calls providers throttled in 5 minutes (all
   * services, buckets and regions together) reach this many, in 2 of 3 periods.
   * @default 50
   */
  readonly providerThrottlesThreshold?: number;

  /**
   * Path of the dispatcher's handler module (exports `handler`), bundled by esbuild.
   * @default - functions/dispatcher/handler.ts in this repository
   */
  readonly entry?: string;
}

/** Every prop with its default applied, validated. */
export interface ResolvedCoordinatorProps {
  readonly configInput: DeploymentConfigInput;
  readonly config: DeploymentConfig;
  readonly priorities: readonly Priority[];
  readonly batchSize: number;
  readonly maxBatchingWindow: Duration;
  readonly maxConcurrency: number;
  readonly functionTimeout: Duration;
  readonly visibilityTimeout: Duration;
  readonly memorySize: number;
  readonly logRetention: RetentionDays;
  readonly alarmTopic: ITopic | undefined;
  readonly maxReceiveCount: number;
  readonly oldestMessageAgeThreshold: Duration;
  readonly providerThrottlesThreshold: number;
  readonly entry: string;
  /** The reply queues and topics of `config.replyTo`, parsed. */
  readonly replyDestinations: readonly ReplyDestinationRef[];
}

/** A reply destination of the configuration: a queue or a topic, and its KMS key if any. */
export type ReplyDestinationRef =
  | { readonly kind: 'queue'; readonly queue: SqsQueueRef; readonly kmsKeyArn?: string }
  | { readonly kind: 'topic'; readonly topic: SnsTopicRef; readonly kmsKeyArn?: string };

/**
 * The memory a dispatcher needs (MiB): every call running at once holding an output of the
 * largest size, in {@link OUTPUT_COPIES_IN_MEMORY} copies, and the rest of the function.
 */
export function memoryNeededMib(maxOutputBytes: number, maxConcurrentCalls: number): number {
  const outputs = (maxOutputBytes * maxConcurrentCalls * OUTPUT_COPIES_IN_MEMORY) / 1_048_576;
  return Math.ceil(outputs + DISPATCHER_BASE_MEMORY_MIB);
}

/** The defaults, in one place. */
export const COORDINATOR_DEFAULTS = {
  priorities: PRIORITIES,
  batchSize: 10,
  maxBatchingWindow: Duration.seconds(1),
  maxConcurrency: 10,
  functionTimeout: Duration.seconds(60),
  memorySize: 512,
  logRetention: RetentionDays.ONE_MONTH,
  maxReceiveCount: 5,
  oldestMessageAgeThreshold: Duration.minutes(30),
  providerThrottlesThreshold: 50,
  entry: DEFAULT_DISPATCHER_ENTRY,
} as const;

/** The props are invalid; `problems` lists every one, and the message repeats them. */
export class ThrottleCoordinatorPropsError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(
      `invalid ThrottleCoordinator props (${count}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ThrottleCoordinatorPropsError';
    this.problems = problems;
  }
}

/**
 * Applies the defaults and validates everything; throws one {@link ThrottleCoordinatorPropsError}
 * listing every problem. `stackAccount` is the deploying account when known (not a token): a
 * target without `roleArn` is served with the dispatcher's own credentials, so it must be it.
 */
export function resolveCoordinatorProps(
  props: ThrottleCoordinatorProps,
  stackAccount: string | undefined,
): ResolvedCoordinatorProps {
  const problems: string[] = [];
  const d = COORDINATOR_DEFAULTS;

  let config: DeploymentConfig | undefined;
  try {
    config = parseDeploymentConfig(props.config);
  } catch (error) {
    if (!(error instanceof DeploymentConfigError)) throw error;
    problems.push(...error.problems.map((p) => `config.${p.message}`));
  }

  const priorities = props.priorities ?? d.priorities;
  problems.push(...priorityProblems(priorities));

  const batchSize = props.batchSize ?? d.batchSize;
  const maxBatchingWindow = props.maxBatchingWindow ?? d.maxBatchingWindow;
  const windowSeconds = seconds(maxBatchingWindow);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
    problems.push(`batchSize: must be an integer from 1 to ${MAX_BATCH_SIZE}; got ${batchSize}`);
  } else if (batchSize > MAX_BATCH_SIZE_WITHOUT_WINDOW && windowSeconds === 0) {
    problems.push(
      `batchSize: above ${MAX_BATCH_SIZE_WITHOUT_WINDOW} needs a maxBatchingWindow above 0 (SQS event sources); got ${batchSize}`,
    );
  }
  if (
    windowSeconds !== undefined &&
    (!Number.isInteger(windowSeconds) || windowSeconds > MAX_BATCHING_WINDOW_SECONDS)
  ) {
    problems.push(
      `maxBatchingWindow: must be whole seconds, at most ${MAX_BATCHING_WINDOW_SECONDS}; got ${windowSeconds}`,
    );
  }

  const maxConcurrency = props.maxConcurrency ?? d.maxConcurrency;
  if (
    !Number.isInteger(maxConcurrency) ||
    maxConcurrency < MIN_MAX_CONCURRENCY ||
    maxConcurrency > MAX_MAX_CONCURRENCY
  ) {
    problems.push(
      `maxConcurrency: must be an integer from ${MIN_MAX_CONCURRENCY} to ${MAX_MAX_CONCURRENCY} (SQS event source limit); got ${maxConcurrency}`,
    );
  }

  const functionTimeout = props.functionTimeout ?? d.functionTimeout;
  const timeoutSeconds = seconds(functionTimeout);
  if (
    timeoutSeconds !== undefined &&
    (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 900)
  ) {
    problems.push(`functionTimeout: must be whole seconds from 1 to 900; got ${timeoutSeconds}`);
  }
  const visibilitySeconds = Math.min(
    (timeoutSeconds ?? 0) * VISIBILITY_TIMEOUT_FACTOR,
    MAX_VISIBILITY_SECONDS,
  );
  const visibilityTimeout =
    timeoutSeconds === undefined
      ? // A token timeout cannot be multiplied at synth time; SQS's maximum is always ≥ 6×.
        Duration.seconds(MAX_VISIBILITY_SECONDS)
      : Duration.seconds(visibilitySeconds);

  const memorySize = props.memorySize ?? d.memorySize;
  if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10_240) {
    problems.push(`memorySize: must be an integer from 128 to 10240 MiB; got ${memorySize}`);
  } else if (config !== undefined) {
    // Calls running at once may each hold an output of up to maxOutputBytes, several times over:
    // a function that cannot would fail whole batches, other producers' calls with them.
    const needMib = memoryNeededMib(config.maxOutputBytes, config.maxConcurrentCalls);
    if (memorySize < needMib) {
      problems.push(
        `memorySize: ${memorySize} MiB cannot hold ${config.maxConcurrentCalls} calls (maxConcurrentCalls) with outputs of up to ${config.maxOutputBytes} bytes (maxOutputBytes); raise it to at least ${needMib} MiB or lower those`,
      );
    }
  }

  const maxReceiveCount = props.maxReceiveCount ?? d.maxReceiveCount;
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
    problems.push(`maxReceiveCount: must be an integer from 1 to 1000; got ${maxReceiveCount}`);
  }

  const oldestMessageAgeThreshold = props.oldestMessageAgeThreshold ?? d.oldestMessageAgeThreshold;
  const ageSeconds = seconds(oldestMessageAgeThreshold);
  if (ageSeconds !== undefined && ageSeconds < 60) {
    problems.push(`oldestMessageAgeThreshold: must be at least 1 minute; got ${ageSeconds} s`);
  }

  const providerThrottlesThreshold =
    props.providerThrottlesThreshold ?? d.providerThrottlesThreshold;
  if (!(Number.isFinite(providerThrottlesThreshold) && providerThrottlesThreshold > 0)) {
    problems.push(
      `providerThrottlesThreshold: must be a number above 0; got ${providerThrottlesThreshold}`,
    );
  }

  const entry = resolve(props.entry ?? d.entry);
  if (!/\.(?:ts|mts|js|mjs)$/.test(entry)) {
    problems.push(`entry: must be a .ts, .mts, .js or .mjs file; got ${entry}`);
  } else if (!existsSync(entry)) {
    problems.push(`entry: the dispatcher handler ${entry} does not exist`);
  }

  const replyDestinations: ReplyDestinationRef[] = [];
  if (config !== undefined) {
    problems.push(...targetProblems(config, stackAccount));
    config.replyTo.forEach(({ destination, kmsKeyArn }, i) => {
      const key = kmsKeyArn === undefined ? {} : { kmsKeyArn };
      const topic = parseSnsTopicArn(destination);
      const queue = parseSqsQueueUrl(destination);
      if (topic !== undefined) replyDestinations.push({ kind: 'topic', topic, ...key });
      else if (queue !== undefined) replyDestinations.push({ kind: 'queue', queue, ...key });
      else {
        problems.push(
          `config.replyTo[${i}]: ${destination} is neither an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>) nor an SNS topic ARN`,
        );
      }
    });
    // A claim must outlive the longest invocation, or a second dispatcher may take over a call
    // that is still running; and it must not outlive the message's invisibility.
    if (timeoutSeconds !== undefined && config.leaseMs < timeoutSeconds * 1000) {
      problems.push(
        `config.leaseMs: must be at least the function timeout (${timeoutSeconds * 1000} ms), so a running call's claim does not lapse; got ${config.leaseMs}`,
      );
    }
    // A call starts only when the invocation has time for its whole timeout (run-call.ts).
    for (const service of new Set(config.targets.flatMap((t) => t.allow.map((a) => a.service)))) {
      const requestTimeoutMs =
        config.callTimeouts[service]?.requestTimeoutMs ??
        SERVICES[service]?.callTimeouts.requestTimeoutMs;
      if (timeoutSeconds === undefined || requestTimeoutMs === undefined) continue;
      const needed = invocationNeedsMs(requestTimeoutMs);
      if (timeoutSeconds * 1000 < needed) {
        problems.push(
          `functionTimeout: ${service} calls may take ${requestTimeoutMs} ms (callTimeouts), so an invocation needs at least ${needed} ms to run one (slot wait, call, bookkeeping); got ${timeoutSeconds * 1000} ms`,
        );
      }
    }
    if (timeoutSeconds !== undefined && config.leaseMs > visibilitySeconds * 1000) {
      problems.push(
        `config.leaseMs: must be at most the queues' visibility timeout (${visibilitySeconds * 1000} ms); got ${config.leaseMs}`,
      );
    }
  }

  if (problems.length > 0 || config === undefined)
    throw new ThrottleCoordinatorPropsError(problems);
  return {
    configInput: props.config,
    config,
    priorities,
    batchSize,
    maxBatchingWindow,
    maxConcurrency,
    functionTimeout,
    visibilityTimeout,
    memorySize,
    logRetention: props.logRetention ?? d.logRetention,
    alarmTopic: props.alarmTopic,
    maxReceiveCount,
    oldestMessageAgeThreshold,
    providerThrottlesThreshold,
    entry,
    replyDestinations,
  };
}

function priorityProblems(priorities: readonly string[]): string[] {
  const problems: string[] = [];
  if (priorities.length === 0) return ['priorities: must name at least the normal priority'];
  priorities.forEach((p, i) => {
    if (!(PRIORITIES as readonly string[]).includes(p)) {
      problems.push(`priorities[${i}]: must be one of ${PRIORITIES.join(', ')}; got ${p}`);
    } else if (priorities.indexOf(p) !== i) {
      problems.push(`priorities[${i}]: ${p} is listed twice`);
    }
  });
  if (!priorities.includes('normal')) {
    problems.push('priorities: must include normal (requests of other priorities fall back to it)');
  }
  return problems;
}

/** Problems the schema cannot see: unknown services, roles in the wrong account. */
function targetProblems(config: DeploymentConfig, stackAccount: string | undefined): string[] {
  const problems: string[] = [];
  config.targets.forEach((target, i) => {
    target.allow.forEach((entry, j) => {
      if (SERVICES[entry.service] === undefined) {
        problems.push(
          `config.targets[${i}].allow[${j}].service: ${entry.service} has no SDK client in the dispatcher (known: ${Object.keys(SERVICES).join(', ')})`,
        );
      }
    });
    if (target.roleArn !== undefined) {
      const roleAccount = target.roleArn.split(':')[4];
      if (roleAccount !== target.account) {
        problems.push(
          `config.targets[${i}].roleArn: must be a role in the target account ${target.account}; got one in ${roleAccount}`,
        );
      }
    } else if (stackAccount !== undefined && target.account !== stackAccount) {
      problems.push(
        `config.targets[${i}]: account ${target.account} has no roleArn, so the dispatcher would call it with its own credentials, which belong to ${stackAccount}; add a roleArn`,
      );
    }
  });
  return problems;
}

/** A Duration in whole seconds, or `undefined` for a token (checked at deploy time instead). */
function seconds(duration: Duration): number | undefined {
  return duration.isUnresolved() ? undefined : duration.toSeconds({ integral: false });
}
