/**
 * Sends the dispatcher's outgoing messages — re-queued requests, dead letters, and (through
 * replies.ts, one sender per region) replies — in SendMessageBatch calls of at most 10 entries
 * and 1 MiB, and says which ones SQS refused.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { messageBytes, stringAttributes, toSqsBatches } from '../aws/sqs-batches.js';

/** The narrowest SQS client the sender needs. */
export type SqsSender = Pick<SQSClient, 'send'>;

/** One message to send. `key` identifies it in the answer (unique within one call). */
export interface OutgoingMessage {
  readonly key: string;
  readonly queueUrl: string;
  readonly body: string;
  /** 0–900 s; SQS's per-message delay. */
  readonly delaySeconds?: number;
  /** String message attributes (Sluice's envelope: reservation, first receipt, reason). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** For a FIFO queue, which requires both: the message group and the deduplication id. */
  readonly fifo?: { readonly groupId: string; readonly deduplicationId: string };
}

/** Sends messages in batches. */
export class QueueSender {
  readonly #client: SqsSender;
  constructor(client: SqsSender) {
    this.#client = client;
  }

  /** Sends every message; returns the keys of those not sent, with the reason. */
  async sendAll(messages: readonly OutgoingMessage[]): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    const prepared = messages.map((m) => {
      const attributes = stringAttributes(m.attributes);
      return { m, attributes, bytes: messageBytes(m.body, attributes) };
    });
    const batches = toSqsBatches(prepared, ({ m, bytes }) => ({ queueUrl: m.queueUrl, bytes }));
    await Promise.all(
      batches.map(async ({ queueUrl, entries: batch }) => {
        try {
          const out = await this.#client.send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: batch.map(({ m, attributes }, i) => ({
                Id: String(i),
                MessageBody: m.body,
                ...(m.delaySeconds ? { DelaySeconds: m.delaySeconds } : {}),
                ...(attributes ? { MessageAttributes: attributes } : {}),
                ...(m.fifo
                  ? {
                      MessageGroupId: m.fifo.groupId,
                      MessageDeduplicationId: m.fifo.deduplicationId,
                    }
                  : {}),
              })),
            }),
          );
          for (const f of out.Failed ?? []) {
            const m = batch[Number(f.Id)]?.m;
            if (m !== undefined) failed.set(m.key, `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`);
          }
        } catch (error) {
          for (const { m } of batch) failed.set(m.key, (error as Error).name ?? 'SendFailed');
        }
      }),
    );
    return failed;
  }
}
