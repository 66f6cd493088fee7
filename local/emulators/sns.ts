/**
 * SNS on the local stack: fauxqs, the SQS emulator, speaks SNS on the same endpoint (the query
 * protocol) and delivers a topic's messages to the SQS queues subscribed to it, with filter
 * policies and raw delivery. Reply topics are made and subscribed here.
 */
import {
  CreateTopicCommand,
  SNSClient,
  type SNSClientConfig,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials.js';

/** An SNS client for the local emulator: dummy credentials, us-east-1 unless `region` is given. */
export function snsClient(
  endpoint: string,
  region: string = LOCAL_REGION,
  overrides: SNSClientConfig = {},
): SNSClient {
  return new SNSClient({ region, credentials: LOCAL_CREDENTIALS, endpoint, ...overrides });
}

/** Creates a topic (idempotent, as SNS's CreateTopic is) and returns its ARN. */
export async function createTopic(client: Pick<SNSClient, 'send'>, name: string): Promise<string> {
  const created = await client.send(new CreateTopicCommand({ Name: name }));
  if (created.TopicArn === undefined) throw new Error('CreateTopic returned no TopicArn');
  return created.TopicArn;
}

/** How an SQS queue subscribes to a topic. */
export interface QueueSubscription {
  /** The queue's ARN. */
  readonly queueArn: string;
  /** The message body is the published message itself, not SNS's JSON envelope. @default false */
  readonly raw?: boolean;
  /** An SNS filter policy on the message attributes, e.g. `{ "status": ["failed"] }`. */
  readonly filterPolicy?: Readonly<Record<string, unknown>>;
}

/** Subscribes an SQS queue to a topic; returns the subscription's ARN. */
export async function subscribeQueue(
  client: Pick<SNSClient, 'send'>,
  topicArn: string,
  subscription: QueueSubscription,
): Promise<string> {
  const attributes: Record<string, string> = {};
  if (subscription.raw) attributes.RawMessageDelivery = 'true';
  if (subscription.filterPolicy !== undefined)
    attributes.FilterPolicy = JSON.stringify(subscription.filterPolicy);
  const out = await client.send(
    new SubscribeCommand({
      TopicArn: topicArn,
      Protocol: 'sqs',
      Endpoint: subscription.queueArn,
      Attributes: attributes,
      ReturnSubscriptionArn: true,
    }),
  );
  if (out.SubscriptionArn === undefined) throw new Error('Subscribe returned no SubscriptionArn');
  return out.SubscriptionArn;
}
