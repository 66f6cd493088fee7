/** Test helpers for SQS queues on the local emulator. */
import { type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Receives what a queue holds now (without deleting it): the first receive waits up to
 * `waitSeconds`, the rest do not. Bounded: at most 20 receives of 10.
 */
export async function receiveAll(
  sqs: Pick<SQSClient, 'send'>,
  queueUrl: string,
  waitSeconds = 0,
): Promise<Message[]> {
  const messages: Message[] = [];
  for (let round = 0; round < 20; round++) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: round === 0 ? waitSeconds : 0,
      }),
    );
    if (!out.Messages?.length) break;
    messages.push(...out.Messages);
  }
  return messages;
}
