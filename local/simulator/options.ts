/**
 * The options of {@link startProviderSimulator}, in one place: the server's (port, latency), the
 * callers' (accounts, default region) and the provider model's (limits, penalty, faults, clock).
 */
import type { SimCall } from './call.js';
import type { SimFault } from './faults.js';
import type { SimLimits, SimPenalty } from './throttle.js';

/** Options of {@link startProviderSimulator}; all optional. */
export interface ProviderSimulatorOptions {
  /** TCP port on 127.0.0.1. @default 0 (a free port) */
  readonly port?: number;
  /**
   * Access key id → account id. A key not listed is its own account, so distinct keys are
   * distinct callers (the local runtime can use the account id as the access key). Unsigned
   * requests belong to `000000000000`.
   */
  readonly accounts?: Readonly<Record<string, string>>;
  /** Region of unsigned requests. @default 'us-east-1' */
  readonly defaultRegion?: string;
  /** Limit overrides; the catalog's defaults otherwise. */
  readonly limits?: SimLimits;
  /** Milliseconds since the epoch; a fake clock makes bucket refills exact in tests. @default Date.now */
  readonly clock?: () => number;
  /** Fixed delay before every answer, in real time (not `clock`). @default 0 */
  readonly latencyMs?: number;
  /**
   * Send `Retry-After` (whole seconds until the call would fit) with throttling answers. AWS
   * does not; this stands in for providers that do (HTTP APIs, Kubernetes).
   * @default false
   */
  readonly retryAfter?: boolean;
  /**
   * Escalating penalty, like Keeper's: once an action is throttled, every call to it is throttled
   * for `durationMs`, and each call during the penalty restarts it.
   */
  readonly penalty?: SimPenalty;
  /**
   * Whether the caller's IAM policies allow the call. A call they do not is answered
   * `UnauthorizedOperation` (EC2, HTTP 403) once admitted — a `DryRun` too: that is the answer a
   * DryRun exists to get, where one that would succeed is answered `DryRunOperation` (412).
   * @default every call is allowed
   */
  readonly permits?: (call: SimCall) => boolean;
  /** Faults armed from the start (and re-armed by `reset()`). */
  readonly faults?: readonly SimFault[];
}
