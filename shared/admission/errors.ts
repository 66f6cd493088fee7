/**
 * Errors of the admission module. "Not admitted yet" and "never fits" are *decisions*, returned
 * as values; these classes are for misuse and for storage failures the caller must classify.
 */

/** Base class of every admission error. */
export class AdmissionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AdmissionError';
  }
}

/** The group handed to `admit` is malformed (a programming error in the caller, not bad input). */
export class InvalidAdmissionGroupError extends AdmissionError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidAdmissionGroupError';
  }
}

/** The buckets table answered with something other than success or a failed condition. */
export class BucketStoreError extends AdmissionError {
  readonly bucketKey: string;
  constructor(bucketKey: string, message: string, options?: ErrorOptions) {
    super(`bucket ${bucketKey}: ${message}`, options);
    this.name = 'BucketStoreError';
    this.bucketKey = bucketKey;
  }
}
