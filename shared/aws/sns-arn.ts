/**
 * SNS topic ARNs, read in one place: `arn:<partition>:sns:<region>:<account>:<topic>`. The form
 * is the contract's (shared/contract/patterns.ts), so what a request may name as `replyTo` and
 * what the dispatcher can publish to are the same set.
 */
import { SNS_TOPIC_ARN_PATTERN } from '../contract/patterns.js';

/** An SNS topic named by its ARN. */
export interface SnsTopicRef {
  readonly arn: string;
  readonly region: string;
  readonly account: string;
  readonly name: string;
  /** A FIFO topic (its name ends in `.fifo`): every message needs a group and a deduplication id. */
  readonly fifo: boolean;
}

/** Parses an SNS topic ARN; `undefined` when it is not one. */
export function parseSnsTopicArn(arn: string): SnsTopicRef | undefined {
  const match = SNS_TOPIC_ARN_PATTERN.exec(arn);
  if (match === null) return undefined;
  const [, region, account, name] = match as unknown as [string, string, string, string];
  return { arn, region, account, name, fifo: name.endsWith('.fifo') };
}
