/**
 * The limits catalog: which provider buckets an API call draws on, their limits and the call's
 * cost. Start with {@link createCatalog} (or {@link drawsFor} for the built-in defaults).
 */
export {
  BUILT_IN_SERVICES,
  type CallSpec,
  type CallTarget,
  createCatalog,
  drawsFor,
  type LimitOverride,
  type LimitsCatalog,
  type LimitsConfig,
  validateLimitsConfig,
} from './catalog.js';
export {
  EC2_ACTION_LIMITS,
  EC2_CATEGORY_LIMITS,
  EC2_RESOURCE_BUCKETS,
  EC2_RESOURCE_INTENSIVE_ACTIONS,
  EC2_SERVICE,
  EC2_UNFILTERED_DESCRIBE_ACTIONS,
  type Ec2Category,
  type Ec2ResourceBucket,
  ec2Category,
  ec2Needs,
  isUnfilteredDescribe,
} from './ec2.js';
export {
  InvalidCostError,
  InvalidLimitsConfigError,
  LimitsError,
  UnknownServiceError,
} from './errors.js';
export {
  SERVICE_QUOTAS_DEFAULT_BUCKET,
  SERVICE_QUOTAS_LIMITS,
  SERVICE_QUOTAS_SERVICE,
} from './service-quotas.js';
export type { BucketDraw, BucketLimit, BucketNeed, BucketRef, ServiceLimits } from './types.js';
