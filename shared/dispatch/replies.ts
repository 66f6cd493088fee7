/**
 * Results pushed to where the request asked (`replyTo`): an SQS queue or an SNS topic, whose
 * subscriptions can be queues, HTTPS endpoints or functions. One sender for both, picked by the
 * destination's form; one client per region (a queue URL or topic ARN names its region, and a
 * client signs for one region); FIFO queues and topics get a message group and a deduplication
 * id derived from the request, so a result re-sent for a duplicate delivery is delivered once.
 *
 * Every reply carries string message attributes a subscriber can filter on (an SNS subscription
 * filter policy, say): `status`, `producer`, `operation`, `service`.
 */
import { createHash } from 'node:crypto';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { type ClientFactory, type Destroyable, RegionalClients } from '../aws/regional-clients.js';
import { parseSnsTopicArn } from '../aws/sns-arn.js';
import { stringAttributes } from '../aws/sqs-batches.js';
import { isFifoQueue, sqsQueueRegionOf } from '../aws/sqs-url.js';
import type { SluiceRequest } from '../contract/request.js';
import type { SluiceResult } from '../contract/result.js';
import { type OutgoingMessage, QueueSender, type SqsSender } from './queue-sender.js';

/** Names of the message attributes on every reply. */
export const REPLY_ATTRIBUTES = {
  /** The result's status: `succeeded`, `failed` or `rejected`. */
  status: 'status',
  /** Who sent the request (see producer.ts). */
  producer: 'producer',
  /** The call's operation, e.g. `RunInstances`. */
  operation: 'operation',
  /** The call's service, e.g. `ec2`. */
  service: 'service',
} as const;

/** One result to send; `key` identifies it in the answer of {@link ReplySender.sendAll}. */
export interface Reply {
  readonly key: string;
  /** The request's `replyTo`: an SQS queue URL or an SNS topic ARN. */
  readonly destination: string;
  /** The result record as JSON. */
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** Used by FIFO queues and topics only: the message group and the deduplication id. */
  readonly fifo: { readonly groupId: string; readonly deduplicationId: string };
}

/**
 * The reply to `request` carrying `result`, to `destination` (its allowed `replyTo`), for
 * `producer`. The deduplication id (FIFO) names the result: the SHA-256 of producer, id, status
 * and error code (a hash keeps within SQS's 128 characters). A request's result is final, so every
 * reply of it is one message; but an id re-sent with another call is answered `IdConflict` under
 * the same producer and id, and that answer must not swallow the request's own result (or be
 * swallowed by it) within SQS's five-minute deduplication window.
 */
export function replyMessage(
  destination: string,
  request: SluiceRequest,
  result: SluiceResult,
  producer: string,
): Omit<Reply, 'key'> {
  const code = result.status === 'succeeded' ? '' : result.error.code;
  const deduplicationId = createHash('sha256')
    .update(`${producer}\n${request.id}\n${result.status}\n${code}`)
    .digest('hex');
  return {
    destination,
    body: JSON.stringify(result),
    attributes: {
      [REPLY_ATTRIBUTES.status]: result.status,
      [REPLY_ATTRIBUTES.producer]: producer,
      [REPLY_ATTRIBUTES.operation]: request.call.operation,
      [REPLY_ATTRIBUTES.service]: request.call.service,
    },
    // The group is the request (of its producer): replies of different requests, or of two
    // producers' requests with the same id, never wait for each other.
    fifo: {
      groupId: createHash('sha256').update(`${producer}\n${request.id}`).digest('hex'),
      deduplicationId,
    },
  };
}

/** The narrowest SNS client the sender needs. */
export type SnsPublisher = Pick<SNSClient, 'send'>;

/** How {@link ReplySender} makes its clients, per region. */
export interface ReplyClients {
  /** An SQS client for a region (`undefined`: a queue URL that names none; the own region). */
  readonly sqs: ClientFactory<SqsSender & Destroyable>;
  /** An SNS client for a region (a topic ARN always names one). */
  readonly sns: ClientFactory<SnsPublisher & Destroyable>;
  /** Clients kept per service. @default 32 */
  readonly maxClientsPerService?: number;
}

/** Sends replies to SQS queues and SNS topics, each with a client of the destination's region. */
export class ReplySender {
  readonly #sqs: RegionalClients<SqsSender & Destroyable>;
  readonly #sns: RegionalClients<SnsPublisher & Destroyable>;

  constructor(clients: ReplyClients) {
    this.#sqs = new RegionalClients(clients.sqs, clients.maxClientsPerService);
    this.#sns = new RegionalClients(clients.sns, clients.maxClientsPerService);
  }

  /** Sends every reply; returns the keys of those not sent, with the reason. */
  async sendAll(replies: readonly Reply[]): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    const toQueues = new Map<string | undefined, OutgoingMessage[]>();
    const published: Promise<void>[] = [];
    for (const reply of replies) {
      const topic = parseSnsTopicArn(reply.destination);
      if (topic !== undefined) {
        published.push(this.#publish(reply, topic.region, topic.fifo, failed));
      } else if (/^https?:\/\//.test(reply.destination)) {
        const region = sqsQueueRegionOf(reply.destination);
        const list = toQueues.get(region) ?? [];
        list.push({
          key: reply.key,
          queueUrl: reply.destination,
          body: reply.body,
          attributes: reply.attributes,
          ...(isFifoQueue(reply.destination) ? { fifo: reply.fifo } : {}),
        });
        toQueues.set(region, list);
      } else {
        failed.set(reply.key, 'not an SQS queue URL or an SNS topic ARN');
      }
    }
    const sent = [...toQueues].map(async ([region, messages]) => {
      const unsent = await new QueueSender(this.#sqs.get(region)).sendAll(messages);
      for (const [key, why] of unsent) failed.set(key, why);
    });
    await Promise.all([...sent, ...published]);
    return failed;
  }

  /** The regions this sender has clients for, by service (`''`: the default region). */
  clientRegions(): { readonly sqs: readonly string[]; readonly sns: readonly string[] } {
    return { sqs: this.#sqs.regions(), sns: this.#sns.regions() };
  }

  /** Closes every client. */
  destroy(): void {
    this.#sqs.destroy();
    this.#sns.destroy();
  }

  async #publish(
    reply: Reply,
    region: string,
    fifo: boolean,
    failed: Map<string, string>,
  ): Promise<void> {
    try {
      await this.#sns.get(region).send(
        new PublishCommand({
          TopicArn: reply.destination,
          Message: reply.body,
          MessageAttributes: stringAttributes(reply.attributes),
          ...(fifo
            ? {
                MessageGroupId: reply.fifo.groupId,
                MessageDeduplicationId: reply.fifo.deduplicationId,
              }
            : {}),
        }),
      );
    } catch (error) {
      failed.set(reply.key, (error as Error).name ?? 'PublishFailed');
    }
  }
}
