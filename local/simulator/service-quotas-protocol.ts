/**
 * Service Quotas' awsJson1_1 protocol, both ways: the operation from the
 * `X-Amz-Target: ServiceQuotasV20190624.<Operation>` header, the input from the JSON body, and
 * JSON answers and errors named in `__type` and `x-amzn-errortype`, as the SDK reads them.
 * Throttling is HTTP 400 `TooManyRequestsException`.
 */
import { isRecord } from '../../shared/util/objects.js';
import type { Answer, ProtocolCodec } from './call.js';
import { ProviderError } from './errors.js';

const TARGET_PREFIX = 'ServiceQuotasV20190624.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';

/**
 * The operation a target header names.
 * @throws {ProviderError} `UnknownOperationException` when the target is not Service Quotas'.
 */
export function serviceQuotasOperation(target: string): string {
  if (!target.startsWith(TARGET_PREFIX)) {
    throw new ProviderError('UnknownOperationException', `Unknown target ${target}`);
  }
  return target.slice(TARGET_PREFIX.length);
}

/**
 * The input of a JSON body; an empty body or a JSON value other than an object is `{}`.
 * @throws {ProviderError} `SerializationException` when the body is not JSON.
 */
export function serviceQuotasInput(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = body === '' ? {} : JSON.parse(body);
  } catch {
    throw new ProviderError('SerializationException', 'Malformed JSON body');
  }
  return isRecord(parsed) ? parsed : {};
}

/** A successful (200) answer with a JSON document. */
export function jsonAnswer(result: unknown, requestId: string): Answer {
  return {
    status: 200,
    headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': requestId },
    body: JSON.stringify(result),
  };
}

/** The awsJson error document. */
export function jsonError(
  error: ProviderError,
  requestId: string,
  retryAfterSeconds?: number,
): Answer {
  return {
    status: error.status,
    headers: {
      'content-type': CONTENT_TYPE,
      'x-amzn-requestid': requestId,
      // The awsJson protocols name the error in this header and in `__type`; the SDK reads either.
      'x-amzn-errortype': error.code,
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    },
    body: JSON.stringify({ __type: error.code, message: error.message }),
  };
}

/** Service Quotas' errors and throttling (HTTP 400 `TooManyRequestsException`). */
export const SERVICE_QUOTAS_CODEC: ProtocolCodec = {
  error: (error, requestId) => jsonError(error, requestId),
  throttled: (requestId, retryAfterSeconds) =>
    jsonError(
      new ProviderError('TooManyRequestsException', 'Rate exceeded', 400),
      requestId,
      retryAfterSeconds,
    ),
};
