/**
 * The provider simulator: a local stand-in for Amazon EC2 and Service Quotas that throttles as
 * they do (token buckets per caller account, region and bucket, limits from the limits catalog),
 * with fault injection, `ClientToken` idempotency and counters of every call. The local runtime
 * (`npm start`), the benchmarks and the integration tests point the real SDK clients at it.
 *
 * Layout: `server.ts` (HTTP, routing by protocol) → `simulator.ts` (one call's pipeline) →
 * `throttle.ts`, `faults.ts`, `stats.ts`, `ec2-instances.ts`, `ec2-client-tokens.ts`,
 * `service-quotas-data.ts`; wire formats in `ec2-protocol.ts` and `service-quotas-protocol.ts`.
 */
export type { SimCall, SimService } from './call.js';
export { nestQueryParams } from './ec2-protocol.js';
export { SIM_ERROR_STATUS } from './errors.js';
export type {
  SimErrorFault,
  SimFault,
  SimFaultMatch,
  SimFaultTiming,
  SimHangFault,
  SimResetFault,
} from './faults.js';
export type { ProviderSimulatorOptions } from './options.js';
export { type ProviderSimulator, startProviderSimulator } from './server.js';
export type { SimActionStats, SimCounters, SimExecution } from './stats.js';
export type { SimBucketKey, SimLimits, SimPenalty } from './throttle.js';
