/**
 * The limits catalog: which provider buckets an API call draws on, their limits and the call's
 * cost. Start with {@link createCatalog} (or {@link drawsFor} for the built-in defaults). The
 * built-in services' rules live with the rest of each service's facts in `shared/services/`.
 */
export {
  BUILT_IN_SERVICES,
  type CallSpec,
  type CallTarget,
  createCatalog,
  drawsFor,
  type LimitsCatalog,
  type OperationSpec,
} from './catalog.js';
export {
  InvalidCostError,
  InvalidLimitsConfigError,
  LimitsError,
  UnknownServiceError,
} from './errors.js';
export { type LimitOverride, type LimitsConfig, validateLimitsConfig } from './limits-config.js';
export { tableRules } from './table-rules.js';
export type {
  BucketDraw,
  BucketLimit,
  BucketNeed,
  BucketRef,
  BucketSpec,
  EffectiveBucket,
  LimitRules,
  ServiceLimits,
} from './types.js';
