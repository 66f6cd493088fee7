/**
 * What every step of the dispatcher works with: its collaborators ({@link DispatcherDeps}, with
 * the defaults filled in) and the batch's bookkeeping ({@link BatchContext}), and the request
 * being handled ({@link Work}). The steps are functions of this context (accept.ts, admit-batch.ts,
 * run-call.ts, outcomes.ts, requeue.ts); dispatcher.ts strings them together.
 */
import type { BucketStore } from '../admission/bucket-store.js';
import type { DeploymentConfig } from '../config/deployment.js';
import type { SluiceRequest } from '../contract/request.js';
import type { LimitsCatalog } from '../limits/index.js';
import type { BucketDraw } from '../limits/types.js';
import type { ReadsStore } from '../reads/reads-store.js';
import type { OutputStore } from '../requests/outputs.js';
import type { RequestsStore } from '../requests/requests-store.js';
import type { CallRunner } from './call-runner.js';
import type { CheckIns } from './check-in.js';
import type { IncomingMessage, ReservationEnvelope } from './envelope.js';
import type { OutgoingMessage, QueueSender } from './queue-sender.js';
import type { Reply, ReplySender } from './replies.js';
import type { ReadShare } from './shared-reads.js';
import type { Telemetry } from './telemetry.js';

/** Everything the dispatcher works with. */
export interface DispatcherDeps {
  readonly deployment: DeploymentConfig;
  /**
   * Request queue name → its producer: the only way a message's producer is known. A message
   * from any other queue but the scheduled one is refused.
   */
  readonly producerQueues: ReadonlyMap<string, string>;
  /**
   * The dispatcher's own queue: admitted calls waiting for their slot, and every request re-sent
   * to wait (not admitted yet, backing off, a chained wait). Only the dispatcher sends here, so
   * its envelope (`sluice-*` attributes) is trusted here and nowhere else; and reservations never
   * wait behind a backlog of requests still to be admitted.
   */
  readonly scheduledQueueUrl: string;
  readonly dlqUrl: string;
  readonly catalog: LimitsCatalog;
  readonly buckets: Pick<BucketStore, 'admit' | 'checkIn' | 'reportThrottle'>;
  readonly requests: Pick<
    RequestsStore,
    'claim' | 'markSent' | 'release' | 'finishClaimed' | 'finishOpen' | 'recordRejection'
  >;
  readonly runner: Pick<
    CallRunner,
    'check' | 'run' | 'isSafeToRepeat' | 'timeoutsOf' | 'outcomeCheckOf' | 'readBack'
  >;
  /**
   * The reads table: identical reads share one call, outputs are cached (shared-reads.ts).
   * @default undefined (every read makes its own call)
   */
  readonly reads?: Pick<ReadsStore, 'get' | 'claim' | 'finish' | 'release' | 'extend'>;
  readonly queue: Pick<QueueSender, 'sendAll'>;
  /** Sends results to `replyTo` queues and topics, in any region. */
  readonly replies: Pick<ReplySender, 'sendAll'>;
  /** Stores outputs too large for the result (S3). */
  readonly outputs: Pick<OutputStore, 'put'>;
  readonly telemetry?: Telemetry;
  /** Epoch ms. @default Date.now */
  readonly clock?: () => number;
  /** [0, 1). @default Math.random */
  readonly random?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A message to send once the batch's steps are done: its `key` is the batch's to give. */
export type Outgoing = Omit<OutgoingMessage, 'key'>;

/** A reply to send once the batch's steps are done: its `key` is the batch's to give. */
export type OutgoingReply = Omit<Reply, 'key'>;

/**
 * What the steps of one batch work with: the dispatcher's collaborators with every default filled
 * in, the batch's outbox and its record of messages to deliver again.
 */
export interface BatchContext
  extends Omit<DispatcherDeps, 'telemetry' | 'clock' | 'random' | 'sleep'> {
  readonly telemetry: Telemetry;
  readonly clock: () => number;
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** The scheduled queue's name, which a reservation's message must come from. */
  readonly scheduledQueueName: string;
  /**
   * When the invocation ends, epoch ms (Lambda's remaining time from the batch's start; infinite
   * when unknown): no call starts that could outlive it, and bookkeeping retries stop before it.
   */
  readonly deadlineMs: number;
  /**
   * Queues a message to send for `message` (a re-send, a reply). `message` is acknowledged only
   * if everything queued for it is sent.
   */
  readonly send: (message: IncomingMessage, out: Outgoing) => void;
  /**
   * Keeps the identical read that `work` leads held until it is back at `atMs` and has had time
   * for its call (written with the batch's sends; see shared-reads.ts `holdSharedRead`).
   */
  readonly holdRead: (work: Work, atMs: number) => void;
  /** Queues a result to send to a `replyTo`; like {@link send}, it holds back `message`'s ack. */
  readonly reply: (message: IncomingMessage, reply: OutgoingReply) => void;
  /**
   * Runs a step for `message`. If it throws (the coordinator's own storage or queues failed), the
   * message is left for SQS to deliver again; nothing else in the batch is affected.
   */
  readonly safely: (message: IncomingMessage, step: () => Promise<void>) => Promise<void>;
  /** Leaves messages for SQS to deliver again, logging why. */
  readonly redeliver: (messages: readonly IncomingMessage[], why: string, error: unknown) => void;
  /** The batch's reservations checking in before their slots (one write per bucket at a time). */
  readonly checkIns: CheckIns;
}

/** A request message that passed validation, with what the dispatcher learned about it. */
export interface Work {
  readonly message: IncomingMessage;
  /**
   * Whose request it is: the producer of the request queue it first arrived on (carried in the
   * envelope through the scheduled queue). Its ids, allowlist, credentials and flow are this
   * producer's.
   */
  readonly producer: string;
  readonly request: SluiceRequest;
  /** The buckets the call draws on, the request bucket first. */
  readonly draws: readonly BucketDraw[];
  readonly firstSeenMs: number;
  /** A reservation from the scheduled queue: its slot and place on its buckets' timelines. */
  readonly reservation?: ReservationEnvelope;
  /** A read it leads for identical requests: it ends the read after its call (shared-reads.ts). */
  readonly share?: ReadShare;
}

/** A claim held on a request: who holds it, and until when its writes may be retried. */
export interface Lease {
  /** The request's record key: `<producer>#<id>` (shared/storage/tables.ts). */
  readonly key: string;
  readonly owner: string;
  /** Epoch ms: the lease's end or the invocation's, whichever comes first. */
  readonly untilMs: number;
}

/** An admitted call (or a reservation that arrived) and the slot it runs at. */
export interface Due {
  readonly work: Work;
  /** The call's slot, epoch ms. */
  readonly runAtMs: number;
  /** Each bucket's learned-rate epoch at admission (a throttle report names it). */
  readonly epochs: readonly number[];
  /** A reservation checks in before it runs; a call admitted in this invocation need not. */
  readonly reservation?: ReservationEnvelope;
}
