/**
 * Large outputs, kept beside the requests table in S3: a result whose output is too large for a
 * DynamoDB item or a reply (shared/contract/sizes.ts) carries an `outputRef` — bucket, key, size
 * and SHA-256 — and the output's JSON is one S3 object. The dispatcher writes it
 * ({@link OutputStore}); a reader fetches it back ({@link fetchOutput}), checking size and hash.
 *
 * Keys are `outputs/<producer>/<request id>/<attempt>.json`: under the producer's prefix, which
 * is all its readers are granted; an attempt's claim is unique, so a re-run never overwrites what
 * another attempt's record points to, and writing the same attempt again (a retry after a failed
 * write) writes the same object. The bucket's lifecycle expires objects with the results (CDK
 * construct).
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describeProblems, type Problem, problem } from '../contract/problems.js';
import type { OutputRef } from '../contract/result.js';
import { isPlainObject } from '../util/objects.js';

/** The narrowest S3 client the store and the reader need. */
export type S3Sender = Pick<S3Client, 'send'>;

/** Prefix of every output object: the one the dispatcher may write and readers may read. */
export const OUTPUTS_PREFIX = 'outputs/';

/** The key prefix of a producer's outputs: what its result readers may get. */
export function producerOutputsPrefix(producer: string): string {
  return `${OUTPUTS_PREFIX}${producer}/`;
}

/** The object key of the output of attempt `attempt` of `producer`'s request `id`. */
export function outputObjectKey(producer: string, id: string, attempt: number): string {
  return `${producerOutputsPrefix(producer)}${id}/${attempt}.json`;
}

/** An output object does not match its pointer (size, hash) or is not a JSON object. */
export class OutputMismatchError extends Error {
  readonly ref: OutputRef;
  readonly problems: readonly Problem[];
  constructor(ref: OutputRef, problems: readonly Problem[]) {
    super(`output s3://${ref.bucket}/${ref.key}: ${describeProblems(problems)}`);
    this.name = 'OutputMismatchError';
    this.ref = ref;
    this.problems = problems;
  }
}

/** Settings of an {@link OutputStore}. */
export interface OutputStoreOptions {
  readonly s3: S3Sender;
  /** The outputs bucket (the construct's, `SLUICE_OUTPUTS_BUCKET`). */
  readonly bucketName: string;
}

/** Writes large outputs to the outputs bucket. */
export class OutputStore {
  readonly #s3: S3Sender;
  readonly #bucket: string;

  constructor(options: OutputStoreOptions) {
    this.#s3 = options.s3;
    this.#bucket = options.bucketName;
  }

  /**
   * Stores the output of attempt `attempt` of `producer`'s request `id` (its JSON, `body`) and
   * returns the pointer to it. Throws what S3 throws.
   */
  async put(producer: string, id: string, attempt: number, body: string): Promise<OutputRef> {
    const data = Buffer.from(body, 'utf8');
    const sha256 = createHash('sha256').update(data).digest('hex');
    const key = outputObjectKey(producer, id, attempt);
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: data,
        ContentType: 'application/json',
        // S3 checks the body against it: a corrupted upload is refused, not stored.
        ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
      }),
    );
    return { bucket: this.#bucket, key, bytes: data.byteLength, sha256 };
  }
}

/**
 * Fetches the output a result points to, checked against its size and SHA-256.
 * @throws {OutputMismatchError} the object is not what the pointer says, or not a JSON object.
 * @throws what S3 throws (e.g. `NoSuchKey` once the object expired with the result).
 */
export async function fetchOutput(s3: S3Sender, ref: OutputRef): Promise<Record<string, unknown>> {
  const out = await s3.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
  const data = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
  const problems: Problem[] = [];
  if (data.byteLength !== ref.bytes) {
    const text = `says ${ref.bytes} bytes, the object has ${data.byteLength}`;
    problems.push(problem(['outputRef', 'bytes'], 'mismatch', text));
  }
  if (createHash('sha256').update(data).digest('hex') !== ref.sha256) {
    problems.push(problem(['outputRef', 'sha256'], 'mismatch', "is not the object's SHA-256"));
  }
  if (problems.length > 0) throw new OutputMismatchError(ref, problems);
  let output: unknown;
  try {
    output = JSON.parse(data.toString('utf8'));
  } catch {
    output = undefined;
  }
  if (!isPlainObject(output)) {
    throw new OutputMismatchError(ref, [
      problem(['output'], 'type', 'the object is not a JSON object'),
    ]);
  }
  return output;
}
