/**
 * The table layouts, defined once: the CDK app, the local runtime and the tests all build their
 * tables from these descriptions, so attribute names cannot drift between them.
 */
import type { BucketRef } from '../limits/types.js';

/** Layout of a table with a single string partition key. */
export interface TableLayout {
  /** Logical name; physical names are chosen by CloudFormation or by the local runtime. */
  readonly logicalName: string;
  readonly partitionKey: string;
  /** Attribute holding an epoch-seconds expiry that DynamoDB TTL deletes after, if any. */
  readonly ttlAttribute?: string;
}

/**
 * Buckets table: one item per bucket. `tat` is the bucket's theoretical arrival time in integer
 * microseconds since the epoch (see shared/admission/gcra.ts); it is the whole bucket state.
 */
export const BUCKETS_TABLE = {
  logicalName: 'Buckets',
  partitionKey: 'pk',
  attributes: { tat: 'tat', expiresAt: 'expiresAt' },
  ttlAttribute: 'expiresAt',
} as const satisfies TableLayout & { attributes: Record<string, string> };

/**
 * Requests table: one item per request, keyed by its producer and `id` ({@link requestKey}),
 * holding status, attempts, result and the call's fingerprint; expired by TTL.
 */
export const REQUESTS_TABLE = {
  logicalName: 'Requests',
  partitionKey: 'id',
  ttlAttribute: 'expiresAt',
} as const satisfies TableLayout;

/**
 * Reads table: one item per shared read (shared/reads/), keyed by the call's fingerprint — who
 * holds it and until when, or the output it returned and until when it is cached. Disposable:
 * losing it costs calls, never correctness (claims are leases, outputs expire). Only the
 * dispatcher reads or writes it: it holds outputs of every producer's calls.
 */
export const READS_TABLE = {
  logicalName: 'Reads',
  partitionKey: 'pk',
  ttlAttribute: 'expiresAt',
} as const satisfies TableLayout;

/** Attribute names of the reads table's items (shared/reads/reads-store.ts). */
export const READ_ATTRIBUTES = {
  /** The read's fingerprint (shared/requests/fingerprint.ts: the call's). */
  pk: 'pk',
  /** `running` | `done` | `unshared` | `released` (shared/reads/shared-read.ts). */
  state: 'state',
  /** Writes so far: a claim is conditioned on the version it read. */
  version: 'version',
  /** The leader's request key (running). */
  owner: 'owner',
  /** Epoch ms until which the leader's claim holds (running). */
  leaseUntil: 'leaseUntil',
  /** The call's output, JSON (done). */
  output: 'output',
  /** Epoch ms when the leader's call left and returned (done, unshared). */
  startedAt: 'startedAt',
  finishedAt: 'finishedAt',
  /** Epoch ms until which the output serves any request (done; 0: not cached). */
  cacheUntil: 'cacheUntil',
  /** Epoch seconds; DynamoDB TTL deletes the item some time after. */
  expiresAt: 'expiresAt',
} as const;

/** The partition key of a bucket's item. `#` cannot occur in any of the parts (the contract forbids it). */
export function bucketKey(ref: BucketRef): string {
  return `${ref.account}#${ref.region}#${ref.service}#${ref.bucket}`;
}

/** CreateTable input for a layout: on-demand billing, string partition key. Used locally and in tests. */
export function createTableInput(layout: TableLayout, tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: [{ AttributeName: layout.partitionKey, AttributeType: 'S' as const }],
    KeySchema: [{ AttributeName: layout.partitionKey, KeyType: 'HASH' as const }],
  };
}

/**
 * The requests table key of a request: `<producer>#<id>`. Ids live in their producer's namespace,
 * so the same `id` from two producers is two requests; neither part can contain `#` (the
 * patterns forbid it), and a reader's IAM policy can be limited to keys starting `<producer>#`.
 */
export function requestKey(producer: string, id: string): string {
  return `${producer}#${id}`;
}

/** The request `id` inside a {@link requestKey} (all of it for a key without a producer). */
export function idOfRequestKey(key: string): string {
  return key.slice(key.indexOf('#') + 1);
}

/** Attribute names of the requests table's items (one item per producer and request `id`). */
export const REQUEST_ATTRIBUTES = {
  /** The {@link requestKey}: `<producer>#<id>`. */
  id: 'id',
  /** `waiting` (received, not finished) | `running` (claimed under a lease) | a result status. */
  status: 'status',
  /** Times the call was sent to the provider. */
  attempts: 'attempts',
  /** Epoch ms until which the claim of `leaseOwner` holds. */
  leaseUntil: 'leaseUntil',
  leaseOwner: 'leaseOwner',
  /**
   * Epoch ms when the attempt holding the lease was about to send a call that is not safe to
   * repeat: set just before such a call, removed when an attempt ends knowing its outcome. The
   * next attempt that finds it (a takeover of a lapsed lease, or a request given back after a
   * call that timed out) cannot know whether the call ran: it reads back where it can
   * (shared/dispatch/outcome-check.ts), else ends the request `OutcomeUnknown`.
   */
  sentAt: 'sentAt',
  /** The result record (JSON string of shared/contract/result.ts), once finished. */
  result: 'result',
  /**
   * SHA-256 of the call (target, operation, input) the id was first used for: a re-send of the
   * id with another call is a conflict, never run and never recorded over it.
   */
  fingerprint: 'fingerprint',
  /** Epoch ms of the first receipt. */
  receivedAt: 'receivedAt',
  updatedAt: 'updatedAt',
  /** Epoch seconds; DynamoDB TTL deletes the item some time after. */
  expiresAt: 'expiresAt',
} as const;
