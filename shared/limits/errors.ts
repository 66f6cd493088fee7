/**
 * Errors of the limits catalog: one base class, one subclass per way a lookup or a config can be
 * wrong, each with the context a caller needs to answer the request without parsing the message.
 * All of them are permanent for the request at hand: retrying the same call cannot fix them.
 */
import type { Problem } from '../contract/problems.js';

/** Base class of every error the limits catalog throws. */
export class LimitsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LimitsError';
  }
}

/**
 * The call names a service that is neither built in nor configured in `LimitsConfig.services`.
 * Admitting it against a guessed limit could exceed the provider's real one, so the catalog
 * refuses instead.
 */
export class UnknownServiceError extends LimitsError {
  /** Service id from the call, e.g. `sqs`. */
  readonly service: string;
  /** Operation from the call, e.g. `SendMessage`. */
  readonly operation: string;

  constructor(service: string, operation: string, knownServices: readonly string[]) {
    super(
      `No limits known for service '${service}' (operation '${operation}'): ` +
        `it is not built in and not configured in LimitsConfig.services ` +
        `(known services: ${knownServices.join(', ')})`,
    );
    this.name = 'UnknownServiceError';
    this.service = service;
    this.operation = operation;
  }
}

/**
 * A resource bucket's cost comes from the call's input (EC2 `RunInstances` takes `MaxCount`
 * tokens) and that input is missing or malformed, so the call's cost is unknown.
 */
export class InvalidCostError extends LimitsError {
  readonly service: string;
  readonly operation: string;
  /** Input field the cost is read from, e.g. `MaxCount`. */
  readonly field: string;
  /** What the field must be, e.g. `a positive integer`. */
  readonly rule: string;

  constructor(details: {
    service: string;
    operation: string;
    field: string;
    rule: string;
    /** What the message calls the bucket, e.g. `EC2 RunInstances resource bucket`. */
    bucketDescription: string;
    value: unknown;
  }) {
    super(
      `call.input.${details.field} must be ${details.rule} ` +
        `(${details.bucketDescription} cost); got ${describeValue(details.value)}`,
    );
    this.name = 'InvalidCostError';
    this.service = details.service;
    this.operation = details.operation;
    this.field = details.field;
    this.rule = details.rule;
  }
}

/** A `LimitsConfig` failed validation; `problems` lists every problem found, not just the first. */
export class InvalidLimitsConfigError extends LimitsError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[]) {
    super(
      `Invalid limits config (${problems.length} problem(s)): ${problems.map((p) => p.message).join('; ')}`,
    );
    this.name = 'InvalidLimitsConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

/** A short, log-safe rendering of an offending value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return typeof value;
}
