/**
 * The forms of the names Sluice reads from requests and from the deployment configuration, in
 * one place: the request contract and the configuration must accept exactly the same accounts,
 * regions, services and operations (an earlier copy of the region pattern drifted and accepted
 * strings the other refused).
 *
 * Every pattern is bounded and limited to characters that are safe in table keys (`#` separates
 * their parts), endpoint host names and log lines.
 */

/** A 12-digit AWS account id. */
export const ACCOUNT_PATTERN = /^[0-9]{12}$/;
export const ACCOUNT_RULE = 'must be a 12-digit AWS account id';

/**
 * An AWS region name: partition prefix (us, eu, cn, eusc …), optional qualifier (gov, iso, isob,
 * de …), direction, number — us-east-1, us-gov-west-1, ap-southeast-3, cn-north-1,
 * us-isob-east-1, eusc-de-east-1. Regions are numbered from 1.
 */
export const REGION_PATTERN = /^[a-z]{2,4}(?:-[a-z]{2,16}){1,2}-[1-9][0-9]?$/;
export const REGION_RULE = 'must be an AWS region name such as us-east-1';

/** {@link REGION_PATTERN} without its anchors, to build patterns that contain a region. */
export const REGION_PATTERN_BODY = REGION_PATTERN.source.slice(1, -1);
const REGION = REGION_PATTERN_BODY;

/**
 * An SNS topic ARN: `arn:<partition>:sns:<region>:<account>:<topic>`. Topic names are 1-256
 * letters, digits, `-` and `_`; a FIFO topic's name ends in `.fifo` (counted in the 256).
 * https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html
 */
export const SNS_TOPIC_ARN_PATTERN = new RegExp(
  `^arn:aws(?:-[a-z]+)*:sns:(${REGION}):([0-9]{12}):([A-Za-z0-9_-]{1,256}|[A-Za-z0-9_-]{1,251}\\.fifo)$`,
);
export const SNS_TOPIC_ARN_RULE =
  'must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:results (topic names: letters, digits, - and _, optionally ending in .fifo)';

/**
 * A KMS key ARN (`…:key/<key id>`, multi-Region keys `mrk-…` too). Not an alias: IAM grants key
 * use on the key's ARN, and a policy naming an alias ARN grants nothing.
 */
export const KMS_KEY_ARN_PATTERN = new RegExp(
  `^arn:aws(?:-[a-z]+)*:kms:${REGION}:[0-9]{12}:key/[A-Za-z0-9-]{1,128}$`,
);
export const KMS_KEY_ARN_RULE =
  'must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/<key id>';

/** An SDK service id as used in `call.service`: `ec2`, `service-quotas`. */
export const SERVICE_PATTERN = /^[a-z][a-z0-9-]{1,62}$/;
export const SERVICE_RULE = 'must be a lowercase SDK service id such as ec2 or service-quotas';

/** An API operation name, PascalCase: `RunInstances`. */
export const OPERATION_PATTERN = /^[A-Z][A-Za-z0-9]{1,127}$/;
export const OPERATION_RULE = 'must be a PascalCase operation name such as RunInstances';

/**
 * An operation in an allowlist: a name, or a prefix followed by `*` (`Describe*`). A bare `*`
 * is refused: an allowlist names what it allows.
 */
export const OPERATION_GLOB_PATTERN = /^[A-Z][A-Za-z0-9]{0,127}\*?$/;
export const OPERATION_GLOB_RULE =
  'must be an operation name, optionally ending in * (e.g. Describe*)';

/**
 * A producer's name: lowercase letters, digits and `-`, starting with a letter, at most 32
 * characters. It keys the producer's records (`<producer>#<id>`), names its session in member
 * accounts (`sluice-<producer>`, IAM's 64-character limit) and its queue.
 */
export const PRODUCER_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const PRODUCER_RULE =
  'must be 1 to 32 lowercase letters, digits or -, starting with a letter (e.g. web-team)';

/** The producer of a deployment that names none: every request queue is its. */
export const DEFAULT_PRODUCER = 'default';

/** `Describe*` matches `DescribeInstances`; a name without `*` matches only itself. */
export function operationMatches(pattern: string, operation: string): boolean {
  return pattern.endsWith('*') ? operation.startsWith(pattern.slice(0, -1)) : pattern === operation;
}

/**
 * Whether every operation `inner` matches is matched by `outer`: `DescribeInstances` and
 * `DescribeI*` are within `Describe*`; `Describe*` is not within `DescribeInstances`.
 */
export function operationWithin(inner: string, outer: string): boolean {
  if (!outer.endsWith('*')) return inner === outer;
  return inner.startsWith(outer.slice(0, -1));
}
