/**
 * The simulated provider's own errors: what EC2 or Service Quotas would answer (`InternalError`,
 * `InvalidParameterValue`, `NoSuchResourceException` …). Every part of the simulator throws
 * {@link ProviderError} for a call the provider refuses, and the protocol codecs render it in the
 * service's format, so an error code and its HTTP status are decided in one place.
 */

/** Default HTTP status of well-known error codes, so a fault can name just the code. */
export const SIM_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  // EC2 (Query): client errors are 400 except authorisation (403); server errors 500/503.
  InvalidParameterValue: 400,
  InvalidParameterCombination: 400,
  MissingParameter: 400,
  UnauthorizedOperation: 403,
  // Not a failure: EC2's answer to a DryRun that would have succeeded.
  DryRunOperation: 412,
  AuthFailure: 401,
  InternalError: 500,
  Unavailable: 503,
  // Service Quotas (awsJson1_1): every modeled error is 400 except ServiceException.
  AccessDeniedException: 400,
  IllegalArgumentException: 400,
  NoSuchResourceException: 400,
  ServiceException: 500,
});

/** EC2's answer to a `DryRun` call that would have succeeded (HTTP 412): its success signal. */
export const DRY_RUN_OPERATION = 'DryRunOperation';

/** EC2's answer to a call the caller's IAM policies do not allow (DryRun or not). */
export function unauthorizedOperation(): ProviderError {
  return new ProviderError(
    'UnauthorizedOperation',
    'You are not authorized to perform this operation.',
  );
}

/**
 * A call the provider refuses: answered with `code`, `message` and `status` in the service's
 * format (EC2 XML, Service Quotas JSON). The status defaults from {@link SIM_ERROR_STATUS},
 * else 400.
 */
export class ProviderError extends Error {
  constructor(
    /** The service's error code, e.g. `InvalidParameterValue`. */
    readonly code: string,
    message: string,
    /** HTTP status of the answer. */
    readonly status = SIM_ERROR_STATUS[code] ?? 400,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}
