/**
 * In-process fauxqs (SQS emulator, in memory): the embedded SQS of the local runtime (`npm start`)
 * and of the integration tests, with helpers to make clients for it and to create Sluice's queues.
 *
 * fauxqs names its queues `http://sqs.<region>.localhost:<port>/000000000000/<name>`, a host that
 * does not resolve here. Its lookups go by the exact queue URL carried in the request body, so the
 * URL is fine as an identifier; clients just must not connect to its host. {@link sqsClient} sets
 * an explicit `endpoint`, which makes the SDK keep the endpoint instead of the queue URL's host.
 */
import type { AddressInfo } from 'node:net';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  QueueAttributeName,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { queueUrlPerPriority } from '../../shared/config/queue-urls.js';
import { DEFAULT_PRODUCER } from '../../shared/contract/patterns.js';
import { PRIORITIES, type Priority } from '../../shared/contract/request.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials.js';
import type { RunningEmulator } from './dynalite.js';

/**
 * Starts fauxqs on 127.0.0.1, on a free port.
 *
 * Built from fauxqs's `buildApp` rather than `startFauxqs({ port: 0, logger: false })`: the latter
 * always listens on 0.0.0.0, which would expose an unauthenticated queue service to the whole
 * network; the local runtime keeps its emulators on loopback. Same server, same routes.
 */
export async function startSqs(): Promise<RunningEmulator> {
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop() {
      // fauxqs's server closes open connections itself (forceCloseConnections), and its close
      // hook stops the queues' timers and wakes long polls.
      stopped ??= app.close().then(() => undefined);
      return stopped;
    },
  };
}

/**
 * An SQS client for a local emulator: dummy credentials, us-east-1, and the explicit `endpoint`
 * that keeps requests off the unresolvable host of fauxqs's queue URLs.
 */
export function sqsClient(endpoint: string, overrides: SQSClientConfig = {}): SQSClient {
  return new SQSClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint,
    // Redundant with `endpoint` in today's SDK, but states the intent should that rule change.
    useQueueUrlAsEndpoint: false,
    ...overrides,
  });
}

/** Settings of {@link createQueues}. */
export interface CreateQueuesOptions {
  /**
   * Queue names are `<prefix>-high`, `<prefix>-normal`, `<prefix>-low` (or `<prefix>-p-<name>`
   * per producer), `<prefix>-scheduled` and `<prefix>-dlq`.
   */
  readonly prefix: string;
  /**
   * Named producers, one request queue each. Without them, the request queues are one per
   * priority, all of the default producer's (a deployment that names no producers).
   * @default undefined
   */
  readonly producers?: readonly string[];
  /** Receives after which a message moves to the DLQ (SQS redrive policy): 1 to 1000. */
  readonly maxReceiveCount: number;
  /** Default visibility timeout of the request queues, in seconds: 0 to 43200. */
  readonly visibilityTimeoutSeconds: number;
}

/** The queues made by {@link createQueues}. */
export interface CreatedQueues {
  /**
   * Each producer's request queues by priority (a named producer's one queue serves every
   * priority), in the order given; `default`'s without named producers.
   */
  readonly producerQueueUrls: Readonly<Record<string, Readonly<Record<Priority, string>>>>;
  /** The first producer's request queues by priority. */
  readonly queueUrls: Readonly<Record<Priority, string>>;
  /** Admitted calls waiting for their slot (the dispatcher's own queue). */
  readonly scheduledQueueUrl: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

// SQS queue names: 1-80 of [A-Za-z0-9_-]; the longest suffix added is `-scheduled` (10), or a
// producer's `-p-<name>` (up to 35), checked per name.
const PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,70}$/;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
// The DLQ keeps what it gets for SQS's maximum retention: it is where operators look afterwards.
const DLQ_RETENTION_SECONDS = '1209600';

/**
 * Creates a dead-letter queue, the request queues (one per priority, or one per named producer)
 * and the scheduled queue, each with a redrive policy that sends a message to the DLQ after
 * `maxReceiveCount` receives. Idempotent for identical settings (SQS's CreateQueue is). Works
 * against fauxqs and real SQS alike.
 */
export async function createQueues(
  client: Pick<SQSClient, 'send'>,
  options: CreateQueuesOptions,
): Promise<CreatedQueues> {
  const { prefix, maxReceiveCount, visibilityTimeoutSeconds, producers } = options;
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new RangeError(
      `prefix ${JSON.stringify(prefix)} must be 1 to 70 letters, digits, _ or - (queue name rules)`,
    );
  }
  const requestQueues: readonly (readonly [name: string, suffix: string])[] =
    producers === undefined
      ? PRIORITIES.map((priority) => [priority, priority])
      : producers.map((producer) => [producer, `p-${producer}`]);
  for (const [, suffix] of requestQueues) {
    if (!QUEUE_NAME.test(`${prefix}-${suffix}`)) {
      throw new RangeError(
        `queue name ${prefix}-${suffix} breaks SQS's rules (1-80 of A-Za-z0-9_-)`,
      );
    }
  }
  if (!Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) {
    throw new RangeError(
      `maxReceiveCount must be an integer from 1 to 1000, not ${maxReceiveCount}`,
    );
  }
  if (
    !Number.isInteger(visibilityTimeoutSeconds) ||
    visibilityTimeoutSeconds < 0 ||
    visibilityTimeoutSeconds > 43_200
  ) {
    throw new RangeError(
      `visibilityTimeoutSeconds must be an integer from 0 to 43200, not ${visibilityTimeoutSeconds}`,
    );
  }

  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${prefix}-dlq`,
      Attributes: { MessageRetentionPeriod: DLQ_RETENTION_SECONDS },
    }),
  );
  const dlqUrl = required(dlq.QueueUrl, 'CreateQueue returned no QueueUrl for the DLQ');
  const attributes = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: dlqUrl,
      AttributeNames: [QueueAttributeName.QueueArn],
    }),
  );
  const dlqArn = required(
    attributes.Attributes?.QueueArn,
    'GetQueueAttributes returned no QueueArn',
  );
  const redrivePolicy = JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount });

  const create = async (suffix: string) => {
    const created = await client.send(
      new CreateQueueCommand({
        QueueName: `${prefix}-${suffix}`,
        Attributes: {
          RedrivePolicy: redrivePolicy,
          VisibilityTimeout: String(visibilityTimeoutSeconds),
        },
      }),
    );
    return required(created.QueueUrl, `CreateQueue returned no QueueUrl`);
  };
  const [scheduledQueueUrl, ...requestUrls] = await Promise.all([
    create('scheduled'),
    ...requestQueues.map(([, suffix]) => create(suffix)),
  ]);
  const named = requestQueues.map(([name], i) => [name, requestUrls[i] as string] as const);
  const producerQueueUrls: Record<string, Readonly<Record<Priority, string>>> = producers ===
  undefined
    ? { [DEFAULT_PRODUCER]: Object.fromEntries(named) as Record<Priority, string> }
    : Object.fromEntries(
        named.map(([producer, url]) => [producer, queueUrlPerPriority({ normal: url })]),
      );
  return {
    producerQueueUrls,
    queueUrls: Object.values(producerQueueUrls)[0] as Readonly<Record<Priority, string>>,
    scheduledQueueUrl: scheduledQueueUrl as string,
    dlqUrl,
    dlqArn,
  };
}

function required(value: string | undefined, message: string): string {
  if (value === undefined || value === '') throw new Error(message);
  return value;
}
