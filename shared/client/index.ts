/**
 * The producer library, the package's entry point (`import { SluiceClient } from 'sluice'`):
 * {@link SluiceSender} sends requests (SQS only), {@link SluiceResultReader} reads results
 * (DynamoDB only), {@link SluiceClient} does both. Also the contract types a producer writes and
 * reads, and `parseResult` for results that arrive on a `replyTo` queue.
 */
export { MAX_BATCH_BYTES, MAX_BATCH_ENTRIES } from '../aws/sqs-batches.js';
export type { QueueUrls } from '../config/queue-urls.js';
export type { Problem } from '../contract/problems.js';
export type { Priority, SluiceRequest } from '../contract/request.js';
export {
  type OutputRef,
  parseResult,
  type ResultParseResult,
  type SluiceResult,
} from '../contract/result.js';
export type { S3Sender } from '../requests/outputs.js';
export {
  ClientConfigurationError,
  InvalidRequestError,
  MalformedResultError,
  ResultTimeoutError,
  SluiceClientError,
} from './errors.js';
export { SluiceClient, type SluiceClientOptions } from './producer.js';
export {
  type DynamoReader,
  MAX_POLL_MS,
  type RequestStatus,
  type RequestStatusName,
  SluiceResultReader,
  type SluiceResultReaderOptions,
  type WaitOptions,
  withOutput,
} from './result-reader.js';
export {
  type FailedBatchEntry,
  INVALID_REQUEST_CODE,
  type SentBatchEntry,
  type SentRequest,
  SluiceSender,
  type SluiceSenderOptions,
  type SqsSender,
  type SubmitBatchResult,
} from './sender.js';
