/**
 * The errors of the producer library (sender, result reader, `SluiceClient`): one base
 * class, so a caller can tell them from the SDK's errors, which pass through unchanged.
 */
import { describeProblems, type Problem } from '../contract/problems.js';
import type { RequestStatus } from './result-reader.js';

/** Base class of the errors the producer library throws; SDK errors pass through unchanged. */
export class SluiceClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request (or id) breaks the contract, or is too large to send; `problems` lists every reason. */
export class InvalidRequestError extends SluiceClientError {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[]) {
    super(`invalid request: ${describeProblems(problems)}`);
    this.problems = problems;
  }
}

/** `waitForResult` ran out of time; `lastStatus` is the last status read. */
export class ResultTimeoutError extends SluiceClientError {
  readonly id: string;
  readonly timeoutMs: number;
  readonly lastStatus: RequestStatus;
  constructor(id: string, timeoutMs: number, lastStatus: RequestStatus) {
    super(
      `no result for request ${id} after ${timeoutMs} ms (last status: ${lastStatus.status}` +
        `${lastStatus.attempts === undefined ? '' : `, ${lastStatus.attempts} attempts`})`,
    );
    this.id = id;
    this.timeoutMs = timeoutMs;
    this.lastStatus = lastStatus;
  }
}

/** The requests table holds a record the client cannot read: a bug or a version mismatch. */
export class MalformedResultError extends SluiceClientError {
  readonly id: string;
  readonly problems: readonly Problem[];
  constructor(id: string, problems: readonly Problem[], options?: ErrorOptions) {
    super(`stored record of request ${id} is malformed: ${describeProblems(problems)}`, options);
    this.id = id;
    this.problems = problems;
  }
}

/** The client was not given what an operation needs (an AWS client, queue URLs, the table name). */
export class ClientConfigurationError extends SluiceClientError {}
