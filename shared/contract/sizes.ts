/**
 * Sizes: the platform's limits that Sluice's messages and records live within, and the contract
 * limits derived from them, in one place so that each derivation is written down once.
 *
 * - A request travels as an SQS message, and Sluice re-sends it (re-queued, as a reservation, as
 *   a dead letter) with string attributes of its own: its body must leave room for them.
 * - A result is stored as one DynamoDB attribute and sent as an SQS message or SNS notification:
 *   an output larger than {@link MAX_INLINE_OUTPUT_BYTES} is stored in S3 and the result carries
 *   a pointer to it (`outputRef`), so the record and every reply stay small.
 */

/**
 * SQS's largest message: body plus every message attribute's name, type and value
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html);
 * also the largest SendMessageBatch request.
 */
export const MAX_MESSAGE_BYTES = 1_048_576;

/** SNS's largest message, body plus attributes (256 KiB). */
export const SNS_MAX_MESSAGE_BYTES = 262_144;

/**
 * DynamoDB's largest item, attribute names and values together: 400 KB, counted here as 400,000
 * bytes (the smaller reading of "KB").
 */
export const DYNAMODB_MAX_ITEM_BYTES = 400_000;

/**
 * Room kept in every SQS message for Sluice's envelope: the `sluice-*` attributes of a re-sent
 * request or a dead letter (first receipt, reservation slot and timeline, chained wait, reason of
 * at most 1,000 characters, producer) take under 2 KiB; the rest is margin for what the envelope
 * may carry later.
 */
export const ENVELOPE_RESERVE_BYTES = 8_192;

/**
 * The largest request body, in UTF-8 bytes: SQS's message less the envelope's room, so that every
 * request accepted can be re-sent and dead-lettered with its envelope.
 */
export const MAX_REQUEST_BYTES = MAX_MESSAGE_BYTES - ENVELOPE_RESERVE_BYTES;

/**
 * The largest output kept in the result itself (its JSON, in UTF-8 bytes); larger ones go to S3.
 * Bounded by the smallest place a result goes: an SNS notification of 256 KiB, which also carries
 * the result's other fields (a 128-character id, timings, at most ~1 KiB) and the reply's
 * attributes (status, producer, operation, service: at most ~1 KiB). 192 KiB leaves 64 KiB for
 * them; a DynamoDB item (400 KB) and an SQS message (1 MiB) hold such a result with room to spare.
 */
export const MAX_INLINE_OUTPUT_BYTES = 196_608;

/**
 * The largest output recorded at all (deployment `maxOutputBytes`'s default, 8 MiB): a call
 * whose output is larger ends `failed` with `OutputTooLarge`. The SDK reads a whole answer before
 * its size is known, so every call running at once may hold this much, several times over: the
 * construct checks it against the function's memory (infra/coordinator-props.ts).
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 8_388_608;

/**
 * Copies of an output the dispatcher holds at once while it records it (the answer's bytes, the
 * parsed output, its JSON): what the memory check counts per call.
 */
export const OUTPUT_COPIES_IN_MEMORY = 3;

/** Memory the dispatcher needs besides outputs (Node, the SDK clients, the batch), MiB. */
export const DISPATCHER_BASE_MEMORY_MIB = 128;
