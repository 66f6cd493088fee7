/**
 * SQS queue URLs and ARNs, read in one place. A queue URL names its region, account and queue
 * (`https://sqs.<region>.amazonaws.com/<account>/<name>`); event source ARNs name the same
 * (`arn:aws:sqs:<region>:<account>:<name>`). Emulators use other hosts (fauxqs:
 * `http://sqs.<region>.localhost:<port>/<account>/<name>`), whose last path part is still the
 * queue's name.
 */
import { REGION_PATTERN_BODY } from '../contract/patterns.js';

/** An SQS queue named by its URL. */
export interface SqsQueueRef {
  readonly url: string;
  readonly arn: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
}

const AWS_QUEUE_URL =
  /^https:\/\/(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.(amazonaws\.com(?:\.cn)?)\/([0-9]{12})\/([\w-]{1,80}(?:\.fifo)?)$/;

/**
 * Parses an AWS SQS queue URL, in the current form (`https://sqs.<region>.amazonaws.com/…`) or
 * the legacy one (`https://<region>.queue.amazonaws.com/…`), into its parts and the queue's ARN.
 * `undefined` when it is neither (an emulator's URL, say).
 */
export function parseSqsQueueUrl(url: string): SqsQueueRef | undefined {
  const match = AWS_QUEUE_URL.exec(url);
  if (match === null) return undefined;
  const region = (match[1] ?? match[2]) as string;
  const domain = match[3] as string;
  const account = match[4] as string;
  const name = match[5] as string;
  const partition = domain.endsWith('.cn')
    ? 'aws-cn'
    : region.startsWith('us-gov-')
      ? 'aws-us-gov'
      : 'aws';
  return { url, arn: `arn:${partition}:sqs:${region}:${account}:${name}`, region, account, name };
}

// An emulator's or endpoint's host that still starts with `sqs.<region>.` (fauxqs:
// `sqs.us-east-1.localhost`).
const REGIONAL_HOST = new RegExp(`^https?://sqs\\.(${REGION_PATTERN_BODY})\\.`);

/**
 * The region a queue lives in, from its URL: an AWS queue URL's, else the `sqs.<region>.` of an
 * emulator's host; `undefined` when the URL does not say (then the caller's own region applies).
 */
export function sqsQueueRegionOf(url: string): string | undefined {
  return parseSqsQueueUrl(url)?.region ?? REGIONAL_HOST.exec(url)?.[1];
}

/** A queue's name: the last part of its URL (any host) or of its ARN. */
export function queueNameOf(urlOrArn: string): string {
  return urlOrArn.slice(Math.max(urlOrArn.lastIndexOf('/'), urlOrArn.lastIndexOf(':')) + 1);
}

/** Whether a queue (by URL or ARN) is a FIFO queue: SQS requires the `.fifo` suffix. */
export function isFifoQueue(urlOrArn: string): boolean {
  return queueNameOf(urlOrArn).endsWith('.fifo');
}
