/**
 * The whole life of a batch of request messages: accept (validate, resolve buckets; accept.ts)
 * → share identical reads (answer from a shared or cached output, wait behind the read's
 * leader, or lead it; shared-reads.ts) → admit (one conditional write per bucket group;
 * admit-batch.ts) → claim, run, classify and settle by the retry policy (run-call.ts,
 * retry-policy.ts) → record and reply (outcomes.ts),
 * re-queueing with an SQS delay whatever has to wait (requeue.ts). Clients and the clock are
 * passed in; the Lambda handler and the local stack only wire them (DESIGN.md, "The flow").
 *
 * A message ends in exactly one of three ways: acknowledged with its request finished or handed
 * on (re-sent with a delay, dead-lettered); or reported as failed, so SQS delivers it again after
 * the visibility timeout — only when the coordinator's own storage or queues failed. Poison
 * messages are answered (`rejected`) and acknowledged: they never block the batch, never retry.
 */
import pLimit from 'p-limit';
import { queueNameOf } from '../aws/sqs-url.js';
import { sleep } from '../util/sleep.js';
import { accept } from './accept.js';
import { admitBatch } from './admit-batch.js';
import { CheckIns } from './check-in.js';
import type { BatchContext, DispatcherDeps, Due, Work } from './context.js';
import type { IncomingMessage } from './envelope.js';
import type { OutgoingMessage } from './queue-sender.js';
import type { Reply } from './replies.js';
import { runCall } from './run-call.js';
import { holdSharedRead, shareReads } from './shared-reads.js';
import { SILENT_TELEMETRY } from './telemetry.js';

export type { DispatcherDeps } from './context.js';
export type { IncomingMessage } from './envelope.js';

/** What became of a batch: the messages SQS must deliver again. */
export interface BatchOutcome {
  readonly failedMessageIds: readonly string[];
}

/** What the invocation knows of itself. */
export interface BatchOptions {
  /**
   * The invocation's time left when the batch starts, ms (Lambda's
   * `context.getRemainingTimeInMillis()`). @default unbounded
   */
  readonly remainingMs?: number;
}

/**
 * Processes batches of request messages.
 *
 * @example
 * const dispatcher = new Dispatcher({ deployment, producerQueues, scheduledQueueUrl, dlqUrl, catalog, buckets, requests, runner, queue });
 * const { failedMessageIds } = await dispatcher.processBatch(messages, context.awsRequestId);
 */
export class Dispatcher {
  readonly #deps: Omit<
    BatchContext,
    'send' | 'reply' | 'holdRead' | 'safely' | 'redeliver' | 'checkIns' | 'deadlineMs'
  >;

  constructor(deps: DispatcherDeps) {
    this.#deps = {
      ...deps,
      scheduledQueueName: queueNameOf(deps.scheduledQueueUrl),
      telemetry: deps.telemetry ?? SILENT_TELEMETRY,
      clock: deps.clock ?? Date.now,
      random: deps.random ?? Math.random,
      sleep: deps.sleep ?? sleep,
    };
  }

  /** Processes one batch. `owner` names the lease holder (e.g. the Lambda request id). */
  async processBatch(
    messages: readonly IncomingMessage[],
    owner: string,
    options: BatchOptions = {},
  ): Promise<BatchOutcome> {
    const failed = new Set<string>();
    const outbox: Outbox = { messages: [], replies: [] };
    /** Reads this batch's leaders hold while they are re-queued (written with the sends). */
    const holds: { work: Work; atMs: number }[] = [];
    let sequence = 0;
    const { telemetry } = this.#deps;
    const ctx: BatchContext = {
      ...this.#deps,
      deadlineMs: this.#deps.clock() + (options.remainingMs ?? Number.POSITIVE_INFINITY),
      // Keyed by the message they are for: it is acknowledged only if they are all sent.
      send: (message, out) => {
        outbox.messages.push({ ...out, key: `${message.messageId}#${sequence++}` });
      },
      holdRead: (work, atMs) => {
        holds.push({ work, atMs });
      },
      reply: (message, reply) => {
        outbox.replies.push({ ...reply, key: `${message.messageId}#${sequence++}` });
      },
      safely: async (message, step) => {
        try {
          await step();
        } catch (error) {
          // Our own storage or queue failed: let SQS deliver the message again.
          failed.add(message.messageId);
          telemetry.warn('message left for redelivery', {
            messageId: message.messageId,
            error: (error as Error).name,
            detail: (error as Error).message,
          });
        }
      },
      redeliver: (left, why, error) => {
        for (const message of left) failed.add(message.messageId);
        telemetry.warn(why, { error: (error as Error).name });
      },
      checkIns: new CheckIns(() => ctx),
    };

    const accepted: Work[] = [];
    await Promise.all(
      messages.map((message) =>
        ctx.safely(message, async () => {
          const work = await accept(ctx, message);
          if (work !== undefined) accepted.push(work);
        }),
      ),
    );
    // Identical reads: answered from a shared read, parked behind its leader, or on as leader.
    const shared = await shareReads(ctx, accepted, owner);
    const toAdmit: Work[] = [];
    const toRun: Due[] = [];
    for (const work of shared.proceed) {
      const { reservation } = work;
      if (reservation === undefined) toAdmit.push(work);
      else
        toRun.push({ work, runAtMs: reservation.runAtMs, epochs: reservation.epochs, reservation });
    }
    const limit = pLimit(this.#deps.deployment.maxConcurrentCalls);
    const run = (due: Due) =>
      limit(() => ctx.safely(due.work.message, () => runCall(ctx, due, owner)));
    // Calls asked again in this invocation run as each round admits them, and what a round
    // re-queued leaves with them (its delays count from now).
    const admitted = await admitBatch(ctx, toAdmit, (due) =>
      Promise.all([this.#flush(outbox, failed), ...due.map(run)]),
    );
    toRun.push(...admitted.due);

    // Re-queued messages leave now, alongside the due calls, not after them: their delays
    // count from now.
    const requeued = this.#flush(outbox, failed);
    const held = holdReads(ctx, holds);
    await Promise.all([requeued, held, ...toRun.map(run), admitted.later]);
    await shared.settle();
    await Promise.all([this.#flush(outbox, failed), holdReads(ctx, holds)]);
    return { failedMessageIds: [...failed] };
  }

  /** Sends what is pending; a message whose outgoing messages did not all go is failed. */
  async #flush(outbox: Outbox, failed: Set<string>): Promise<void> {
    const messages = outbox.messages.splice(0, outbox.messages.length);
    const replies = outbox.replies.splice(0, outbox.replies.length);
    const unsent = await Promise.all([
      messages.length > 0 ? this.#deps.queue.sendAll(messages) : new Map<string, string>(),
      replies.length > 0 ? this.#deps.replies.sendAll(replies) : new Map<string, string>(),
    ]);
    for (const keys of unsent) {
      for (const key of keys.keys()) failed.add(key.slice(0, key.lastIndexOf('#')));
    }
  }
}

/** Writes the read holds pending (taking them off the list). */
function holdReads(ctx: BatchContext, holds: { work: Work; atMs: number }[]): Promise<unknown> {
  return Promise.all(holds.splice(0).map((h) => holdSharedRead(ctx, h.work, h.atMs)));
}

/** What a batch has to send: re-sent requests and dead letters, and replies. */
interface Outbox {
  readonly messages: OutgoingMessage[];
  readonly replies: Reply[];
}
