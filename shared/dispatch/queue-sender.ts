/**
 * Sends the dispatcher's outgoing messages — re-queued requests, replies, dead letters — in
 * SendMessageBatch calls of at most 10 entries and 1 MiB, and says which ones SQS refused.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

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
}

const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 1_048_576;

/** Sends messages in batches. */
export class QueueSender {
  readonly #client: SqsSender;
  constructor(client: SqsSender) {
    this.#client = client;
  }

  /** Sends every message; returns the keys of those not sent, with the reason. */
  async sendAll(messages: readonly OutgoingMessage[]): Promise<Map<string, string>> {
    const failed = new Map<string, string>();
    const batches: OutgoingMessage[][] = [];
    const byQueue = new Map<string, OutgoingMessage[]>();
    for (const m of messages) byQueue.set(m.queueUrl, [...(byQueue.get(m.queueUrl) ?? []), m]);
    for (const queued of byQueue.values()) {
      let batch: OutgoingMessage[] = [];
      let bytes = 0;
      for (const m of queued) {
        const size = Buffer.byteLength(m.body) + attributeBytes(m.attributes);
        if (batch.length === MAX_ENTRIES || (batch.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
          batches.push(batch);
          batch = [];
          bytes = 0;
        }
        batch.push(m);
        bytes += size;
      }
      if (batch.length > 0) batches.push(batch);
    }
    await Promise.all(
      batches.map(async (batch) => {
        try {
          const out = await this.#client.send(
            new SendMessageBatchCommand({
              QueueUrl: (batch[0] as OutgoingMessage).queueUrl,
              Entries: batch.map((m, i) => ({
                Id: String(i),
                MessageBody: m.body,
                ...(m.delaySeconds ? { DelaySeconds: m.delaySeconds } : {}),
                ...(m.attributes && Object.keys(m.attributes).length > 0
                  ? {
                      MessageAttributes: Object.fromEntries(
                        Object.entries(m.attributes).map(([k, v]) => [
                          k,
                          { DataType: 'String', StringValue: v },
                        ]),
                      ),
                    }
                  : {}),
              })),
            }),
          );
          for (const f of out.Failed ?? []) {
            const m = batch[Number(f.Id)];
            if (m !== undefined) failed.set(m.key, `${f.Code ?? 'Failed'}: ${f.Message ?? ''}`);
          }
        } catch (error) {
          for (const m of batch) failed.set(m.key, (error as Error).name ?? 'SendFailed');
        }
      }),
    );
    return failed;
  }
}

function attributeBytes(attributes: Readonly<Record<string, string>> | undefined): number {
  if (attributes === undefined) return 0;
  return Object.entries(attributes).reduce(
    (sum, [k, v]) => sum + Buffer.byteLength(k) + Buffer.byteLength(v) + 6,
    0,
  );
}
