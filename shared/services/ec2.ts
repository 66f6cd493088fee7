/**
 * Amazon EC2 in Sluice's service registry: its SDK client, IAM prefix, idempotency tokens,
 * read-only rule ({@link EC2_DEFINITION}) and its API throttling.
 *
 * Throttling, as documented in "Request throttling for the Amazon EC2 API"
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html); numbers copied from
 * /work/shared/reference/aws-limits.md. Defaults only: accounts can have raised limits, which
 * operators state as overrides in the catalog config.
 *
 * Bucket model. EC2 keeps a request bucket per account, region and API action ("each API is
 * evaluated individually … requests for other API are not affected"); the action's category
 * (non-mutating, mutating, …) only sets the default size of that bucket. So every request bucket
 * here is named after its action (`DescribeSubnets`, `CreateSecurityGroup`), and the category
 * decides its limit. Sharing one `mutating` bucket among all mutating actions would also be safe,
 * but would cap the whole account's mutating traffic at one action's 5/s.
 *
 * Exceptions to "one bucket per action":
 * - the unfiltered-and-unpaginated form of seven Describe actions "uses tokens from a smaller
 *   token bucket": `<Action>:unfiltered`, 50 / 10 (see {@link isUnfilteredDescribe});
 * - four actions also debit a resource bucket, one token per instance affected:
 *   `<Action>:resource` (see {@link EC2_RESOURCE_BUCKETS}).
 */
import { InvalidCostError } from '../limits/errors.js';
import type { BucketLimit, BucketNeed, BucketSpec } from '../limits/types.js';
import { readOnlyByName, type ServiceDefinition, sdkPackage } from './definition.js';
import { EC2_OUTCOME_CHECKS } from './ec2-outcome-checks.js';

/** Service id of Amazon EC2 in the request contract. */
export const EC2_SERVICE = 'ec2';

/**
 * EC2's request-bucket categories. `non-mutating`: `Describe*`, `List*`, `Search*`, `Get*`;
 * `unfiltered-describe`: an unfiltered, unpaginated call to one of
 * {@link EC2_UNFILTERED_DESCRIBE_ACTIONS}; `resource-intensive`: {@link EC2_RESOURCE_INTENSIVE_ACTIONS};
 * `mutating`: everything else.
 */
export type Ec2Category =
  | 'non-mutating'
  | 'unfiltered-describe'
  | 'mutating'
  | 'resource-intensive';

function limit(burst: number, rate: number): BucketLimit {
  return Object.freeze({ rate, burst });
}

/** Default request-bucket limit per category (bucket capacity / refill per second, per action). */
export const EC2_CATEGORY_LIMITS: Readonly<Record<Ec2Category, BucketLimit>> = Object.freeze({
  'non-mutating': limit(100, 20),
  'unfiltered-describe': limit(50, 10),
  mutating: limit(50, 5),
  // Same numbers as mutating today; kept apart because the page lists it apart.
  'resource-intensive': limit(50, 5),
});

/**
 * Actions whose request bucket has its own documented size, replacing their category's. Refill
 * rates are fractional (0.3, 0.15, 0.1 per second) and must stay so.
 */
export const EC2_ACTION_LIMITS: ReadonlyMap<string, BucketLimit> = new Map([
  ['RunInstances', limit(5, 2)],
  ['StartInstances', limit(5, 2)],
  ['TerminateInstances', limit(100, 5)],
  ['CreateTags', limit(100, 10)],
  ['DeleteTags', limit(100, 10)],
  ['CreateVolume', limit(100, 5)],
  ['CopyImage', limit(100, 1)],
  ['CreateNatGateway', limit(10, 1)],
  ['CreateVpcEndpoint', limit(4, 0.3)],
  ['DescribeCapacityBlockOfferings', limit(10, 0.15)],
  ['AdvertiseByoipCidr', limit(1, 0.1)],
]);

/** The Describe actions that draw on the smaller bucket when called unfiltered and unpaginated. */
export const EC2_UNFILTERED_DESCRIBE_ACTIONS: ReadonlySet<string> = new Set([
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeNetworkInterfaces',
  'DescribeSecurityGroups',
  'DescribeSnapshots',
  'DescribeSpotInstanceRequests',
  'DescribeVolumes',
]);

/**
 * Resource-intensive actions. The page names the security-group ingress pair, `CreateKeyPair`,
 * `RequestSpotInstances` and "VPC peering" actions; the peering actions listed here are the
 * mutating ones of that family. Unlisted actions fall to `mutating`, which has the same default.
 */
export const EC2_RESOURCE_INTENSIVE_ACTIONS: ReadonlySet<string> = new Set([
  'AuthorizeSecurityGroupIngress',
  'RevokeSecurityGroupIngress',
  'CreateKeyPair',
  'RequestSpotInstances',
  'AcceptVpcPeeringConnection',
  'CreateVpcPeeringConnection',
  'DeleteVpcPeeringConnection',
  'RejectVpcPeeringConnection',
  'ModifyVpcPeeringConnectionOptions',
]);

/** How a resource bucket's cost is read from the call's input. */
export interface Ec2ResourceBucket {
  readonly limit: BucketLimit;
  /** Input field the cost comes from. */
  readonly costField: 'MaxCount' | 'InstanceIds';
}

function resourceBucket(
  burst: number,
  rate: number,
  costField: Ec2ResourceBucket['costField'],
): Ec2ResourceBucket {
  return Object.freeze({ limit: limit(burst, rate), costField });
}

/**
 * Resource buckets (tokens = instances affected): the action debits its request bucket and this
 * one. `RunInstances` costs `MaxCount` (it may launch fewer, down to `MinCount`, but can launch
 * that many, and admitting the worst case is what keeps the bucket honest); the others cost the
 * number of `InstanceIds`.
 */
export const EC2_RESOURCE_BUCKETS: ReadonlyMap<string, Ec2ResourceBucket> = new Map([
  ['RunInstances', resourceBucket(1000, 2, 'MaxCount')],
  ['StartInstances', resourceBucket(1000, 2, 'InstanceIds')],
  ['StopInstances', resourceBucket(1000, 20, 'InstanceIds')],
  ['TerminateInstances', resourceBucket(1000, 20, 'InstanceIds')],
]);

/** `Describe*`, `List*`, `Search*`, `Get*`: the verb must be followed by the noun (`DescribeX`). */
const NON_MUTATING_VERB = /^(?:Describe|List|Search|Get)(?=[A-Z0-9])/;

/**
 * Whether a call takes the smaller "unfiltered and unpaginated" bucket. The page's rule is
 * "when requested without specifying either pagination or a filter", read literally:
 *
 * - only the seven {@link EC2_UNFILTERED_DESCRIBE_ACTIONS};
 * - filtered means a non-empty `Filters` array (an empty one sends no filter);
 * - paginated means `MaxResults` or a non-empty `NextToken` is present;
 * - id or name lists (`InstanceIds`, `GroupIds`, `VolumeIds`, `OwnerIds` …) do not count as a
 *   filter: the page says "filter", and EC2 documents those parameters apart from `Filters`.
 *
 * When in doubt the rule answers "unfiltered": routing a call to the smaller bucket only admits
 * less than EC2 would, routing it to the larger one could admit more.
 */
export function isUnfilteredDescribe(
  operation: string,
  input: Readonly<Record<string, unknown>>,
): boolean {
  if (!EC2_UNFILTERED_DESCRIBE_ACTIONS.has(operation)) return false;
  const filtered = Array.isArray(input.Filters) && input.Filters.length > 0;
  const paginated =
    (input.MaxResults !== undefined && input.MaxResults !== null) ||
    (typeof input.NextToken === 'string' && input.NextToken !== '');
  return !filtered && !paginated;
}

/**
 * The category of an EC2 call, by action name and, for the seven listed Describe actions, by
 * input. Operation names are EC2 API action names, case-sensitive (`DescribeInstances`). Any
 * action not known here is classified by its verb, so a new EC2 action still gets its
 * category's default.
 */
export function ec2Category(
  operation: string,
  input: Readonly<Record<string, unknown>>,
): Ec2Category {
  return isUnfilteredDescribe(operation, input) ? 'unfiltered-describe' : actionCategory(operation);
}

/** The category of an action's own request bucket (every call but an unfiltered describe). */
function actionCategory(operation: string): Exclude<Ec2Category, 'unfiltered-describe'> {
  if (NON_MUTATING_VERB.test(operation)) return 'non-mutating';
  if (EC2_RESOURCE_INTENSIVE_ACTIONS.has(operation)) return 'resource-intensive';
  return 'mutating';
}

/** The action's own request bucket: its documented size, or its category's. */
function requestBucket(operation: string): BucketSpec {
  return {
    bucket: operation,
    limit: EC2_ACTION_LIMITS.get(operation) ?? EC2_CATEGORY_LIMITS[actionCategory(operation)],
  };
}

/** The smaller bucket of an unfiltered, unpaginated call to one of the seven Describe actions. */
function unfilteredBucket(operation: string): BucketSpec {
  return { bucket: `${operation}:unfiltered`, limit: EC2_CATEGORY_LIMITS['unfiltered-describe'] };
}

/**
 * The buckets an EC2 call draws on, with default limits and costs: first its request bucket
 * (cost 1), then, for the four instance actions, its resource bucket.
 * DryRun calls draw on the request bucket (EC2 throttles them too, karpenter-provider-aws#7891)
 * and on no resource bucket: they affect no instance. Debiting `MaxCount` for a call that launches
 * nothing would let one producer keep an account's launch budget empty for free.
 *
 * @throws {InvalidCostError} when a resource bucket's cost input is missing or malformed.
 */
export function ec2Needs(
  operation: string,
  input: Readonly<Record<string, unknown>>,
): BucketNeed[] {
  const request = isUnfilteredDescribe(operation, input)
    ? unfilteredBucket(operation)
    : requestBucket(operation);
  const needs: BucketNeed[] = [{ ...request, cost: 1 }];
  const resource = EC2_RESOURCE_BUCKETS.get(operation);
  if (resource !== undefined && input.DryRun !== true) {
    needs.push({
      bucket: `${operation}:resource`,
      limit: resource.limit,
      cost: resourceCost(operation, resource.costField, input),
    });
  }
  return needs;
}

/**
 * Every bucket an EC2 action can draw on, whatever its input: its request bucket, the
 * `:unfiltered` one for the seven Describe actions, the `:resource` one for the four instance
 * actions.
 */
export function ec2Buckets(operation: string): BucketSpec[] {
  const buckets = [requestBucket(operation)];
  if (EC2_UNFILTERED_DESCRIBE_ACTIONS.has(operation)) buckets.push(unfilteredBucket(operation));
  const resource = EC2_RESOURCE_BUCKETS.get(operation);
  if (resource !== undefined) {
    buckets.push({ bucket: `${operation}:resource`, limit: resource.limit });
  }
  return buckets;
}

function resourceCost(
  operation: string,
  field: Ec2ResourceBucket['costField'],
  input: Readonly<Record<string, unknown>>,
): number {
  const value = input[field];
  if (field === 'MaxCount') {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
    throw costError(operation, field, 'a positive integer', value);
  }
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((id) => typeof id === 'string' && id !== '')
  ) {
    return value.length;
  }
  throw costError(operation, field, 'a non-empty array of instance ids', value);
}

function costError(
  operation: string,
  field: string,
  rule: string,
  value: unknown,
): InvalidCostError {
  return new InvalidCostError({
    service: EC2_SERVICE,
    operation,
    field,
    rule,
    bucketDescription: `EC2 ${operation} resource bucket`,
    value,
  });
}

/** Amazon EC2's entry in the service registry. */
export const EC2_DEFINITION: ServiceDefinition = Object.freeze({
  id: EC2_SERVICE,
  iamPrefix: 'ec2',
  // The operations of EC2's "Ensuring idempotency" page. Not StartInstances: it takes no
  // ClientToken (the SDK drops the field), so a repeated start is not recognised as one.
  idempotencyTokens: Object.freeze({
    RunInstances: 'ClientToken',
    CreateFleet: 'ClientToken',
    CreateLaunchTemplate: 'ClientToken',
    CreateLaunchTemplateVersion: 'ClientToken',
    CreateNatGateway: 'ClientToken',
    CreateVpcEndpoint: 'ClientToken',
    CreateVolume: 'ClientToken',
    CopyImage: 'ClientToken',
    CreateCapacityReservation: 'ClientToken',
    AllocateHosts: 'ClientToken',
    RequestSpotInstances: 'ClientToken',
    CreateFlowLogs: 'ClientToken',
  }),
  // Terminating an instance twice terminates it once (the second answer shows it terminated).
  idempotentOperations: new Set(['TerminateInstances']),
  isReadOnly: readOnlyByName,
  takesDryRun: true,
  // Tags can be read back: a tagging call whose answer was lost need not end OutcomeUnknown.
  outcomeChecks: EC2_OUTCOME_CHECKS,
  // RunInstances of many instances and unfiltered describes of large accounts take seconds.
  callTimeouts: Object.freeze({ connectionTimeoutMs: 3_000, requestTimeoutMs: 20_000 }),
  // EC2's Describe* actions support no resource-level permissions; its mutating actions act on
  // resources (instances, volumes, images …) whose tags IAM reads.
  supportsResourceConditions: (operation: string) => !readOnlyByName(operation),
  load: async () => sdkPackage(await import('@aws-sdk/client-ec2'), 'EC2Client'),
  limits: Object.freeze({ needs: ec2Needs, bucketsOf: ec2Buckets }),
});
