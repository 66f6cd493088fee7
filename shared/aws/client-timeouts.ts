/**
 * Timeouts of the dispatcher's own AWS clients (DynamoDB, SQS, SNS, S3), as the SDK's
 * `requestHandler` options (`@smithy/node-http-handler`). The SDK's default is no timeout at
 * all: one hung connection would hold a batch until the function times out, and every call in
 * flight with it. `requestTimeout` bounds the whole request, connection included, only with
 * `throwOnRequestTimeout` (without it the SDK merely warns). The SDK's own retries (3 attempts)
 * stay on for these clients: their requests are idempotent or conditional.
 */
import type { NodeHttpHandlerOptions } from '@smithy/types';

/** The services the dispatcher itself talks to. */
export type DispatcherService = 'dynamodb' | 'sqs' | 'sns' | 's3';

/**
 * `requestHandler` options per service: 3 s to connect everywhere; DynamoDB's small conditional
 * writes 5 s, SQS and SNS batches of up to 1 MiB 10 s, S3 puts of outputs up to `maxOutputBytes`
 * (8 MiB by default) 60 s.
 */
export const DISPATCHER_CLIENT_TIMEOUTS: Readonly<
  Record<DispatcherService, NodeHttpHandlerOptions>
> = Object.freeze({
  dynamodb: { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  sqs: { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  sns: { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true },
  s3: { connectionTimeout: 3_000, requestTimeout: 60_000, throwOnRequestTimeout: true },
});

/** Client settings with the service's timeouts: `{ ...withTimeouts('sqs'), region }`. */
export function withTimeouts(service: DispatcherService): {
  readonly requestHandler: NodeHttpHandlerOptions;
} {
  return { requestHandler: { ...DISPATCHER_CLIENT_TIMEOUTS[service] } };
}
