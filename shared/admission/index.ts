/**
 * Admission: the GCRA token bucket (pure), its DynamoDB store, and batch grouping.
 */
export {
  type AdmissionDecision,
  type AdmissionOutcome,
  BucketStore,
  type BucketStoreOptions,
  type DynamoSender,
  type GroupBucket,
} from './bucket-store.js';
export { AdmissionError, BucketStoreError, InvalidAdmissionGroupError } from './errors.js';
export { type GcraParams, type GcraPlan, gcraParams, planAdmission } from './gcra.js';
export { type BucketGroup, groupByBuckets } from './groups.js';
