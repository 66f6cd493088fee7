/**
 * Admission: the GCRA token bucket (pure), the timeline of granted slots and what moves them
 * (pure: cut-ins, pauses, rate changes), the learned rate (pure), their DynamoDB store, and
 * batch grouping.
 */
export {
  type AdmissionDecision,
  type AdmissionOutcome,
  BucketStore,
  type BucketStoreOptions,
  type CallTag,
  type CheckIn,
  DEFAULT_SCHEDULING,
  type DynamoSender,
  type GroupBucket,
  type Reservation,
  type SchedulingPolicy,
} from './bucket-store.js';
export { AdmissionError, BucketStoreError, InvalidAdmissionGroupError } from './errors.js';
export { type GcraParams, type GcraPlan, gcraParams, planAdmission } from './gcra.js';
export { type BucketGroup, groupByBuckets } from './groups.js';
export { DEFAULT_LEARNED_RATE, type LearnedRatePolicy } from './learned-rate.js';
export type { LevelPolicy } from './placement.js';
export type { TimelinePosition } from './timeline.js';
