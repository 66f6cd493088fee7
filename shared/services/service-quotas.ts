/**
 * Service Quotas in Sluice's service registry ({@link SERVICE_QUOTAS_DEFINITION}): its SDK
 * client, IAM prefix, read-only rule and its API's own throttling, from "Quotas for Service Quotas"
 * (https://docs.aws.amazon.com/servicequotas/latest/userguide/reference_limits.html); numbers
 * copied from /work/shared/reference/aws-limits.md. Per account and region, not adjustable;
 * throttled calls fail with `TooManyRequestsException`.
 */
import { tableRules } from '../limits/table-rules.js';
import type { BucketLimit, ServiceLimits } from '../limits/types.js';
import { readOnlyByName, type ServiceDefinition, sdkPackage } from './definition.js';

/** Service id of Service Quotas in the request contract (as in `AWS_ENDPOINT_URL_SERVICE_QUOTAS`). */
export const SERVICE_QUOTAS_SERVICE = 'service-quotas';

/**
 * Bucket shared by every operation the page gives no rate for (`CreateSupportCase`, the
 * auto-management operations, any added later).
 */
export const SERVICE_QUOTAS_DEFAULT_BUCKET = 'default';

function limit(rate: number, burst: number): BucketLimit {
  return Object.freeze({ rate, burst });
}

/** The quota-template operations: 1/s + 1 burst each. */
export const SERVICE_QUOTAS_TEMPLATE_OPERATIONS = [
  'AssociateServiceQuotaTemplate',
  'DisassociateServiceQuotaTemplate',
  'GetAssociationForServiceQuotaTemplate',
  'PutServiceQuotaIncreaseRequestIntoTemplate',
  'DeleteServiceQuotaIncreaseRequestFromTemplate',
  'ListServiceQuotaIncreaseRequestsInTemplate',
  'GetServiceQuotaIncreaseRequestFromTemplate',
] as const;

/** Documented limits per operation ("Service quotas for Service Quotas"). */
const DOCUMENTED: Readonly<Record<string, BucketLimit>> = {
  ListServiceQuotas: limit(10, 10),
  ListAWSDefaultServiceQuotas: limit(10, 10),
  ListServices: limit(10, 10),
  ListTagsForResource: limit(10, 10),
  TagResource: limit(10, 10),
  UntagResource: limit(10, 10),
  GetServiceQuota: limit(5, 5),
  GetAWSDefaultServiceQuota: limit(5, 5),
  GetRequestedServiceQuotaChange: limit(5, 5),
  ListRequestedServiceQuotaChangeHistory: limit(5, 5),
  ListRequestedServiceQuotaChangeHistoryByQuota: limit(5, 5),
  RequestServiceQuotaIncrease: limit(3, 3),
  ...Object.fromEntries(SERVICE_QUOTAS_TEMPLATE_OPERATIONS.map((op) => [op, limit(1, 1)])),
};

/**
 * Service Quotas limits: each documented operation has its own bucket, named after it
 * (`ListServiceQuotas`, `ListAWSDefaultServiceQuotas`, `ListServices`, `ListTagsForResource`,
 * `TagResource`, `UntagResource` 10/s + 10 burst; the Get operations and the change-history lists
 * 5/s + 5; `RequestServiceQuotaIncrease` 3/s + 3; the quota-template operations 1/s + 1).
 *
 * Assumption, not documented: any other operation shares one `default` bucket of 1/s + 1, the
 * page's lowest documented rate, shared so that an unknown mix of them cannot exceed it.
 * Operators who know better set `LimitsConfig.overrides` for `service-quotas` / `default`, or
 * replace the whole service in `LimitsConfig.services`.
 */
export const SERVICE_QUOTAS_LIMITS: ServiceLimits = Object.freeze({
  defaultBucket: SERVICE_QUOTAS_DEFAULT_BUCKET,
  buckets: Object.freeze({ ...DOCUMENTED, [SERVICE_QUOTAS_DEFAULT_BUCKET]: limit(1, 1) }),
  operations: Object.freeze(Object.fromEntries(Object.keys(DOCUMENTED).map((op) => [op, op]))),
});

/** Service Quotas' entry in the service registry. No operation takes an idempotency token. */
export const SERVICE_QUOTAS_DEFINITION: ServiceDefinition = Object.freeze({
  id: SERVICE_QUOTAS_SERVICE,
  iamPrefix: 'servicequotas',
  idempotencyTokens: Object.freeze({}),
  idempotentOperations: new Set<string>(),
  isReadOnly: readOnlyByName,
  callTimeouts: Object.freeze({ connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 }),
  // The quota operations Sluice allows name no taggable resource.
  supportsResourceConditions: () => false,
  load: async () =>
    sdkPackage(await import('@aws-sdk/client-service-quotas'), 'ServiceQuotasClient'),
  limits: tableRules(SERVICE_QUOTAS_LIMITS),
});
