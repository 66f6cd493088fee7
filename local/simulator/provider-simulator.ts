/**
 * A provider that throttles like Amazon EC2 and Service Quotas do: the target of every call the
 * local runtime (`npm start`) and the integration tests run. The real SDK clients talk to it,
 * pointed here by `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL_SERVICE_QUOTAS` or an explicit
 * `endpoint`, so what Sluice sees is exactly what the SDK makes of EC2's and Service Quotas'
 * answers: the same error names, HTTP statuses and classification.
 *
 * One node:http server on loopback speaks both protocols:
 * - EC2 Query: form-urlencoded POST, `Action=RunInstances&Version=2016-11-15&MaxCount=2…`;
 *   XML answers; throttling is HTTP 503 `RequestLimitExceeded`.
 * - Service Quotas awsJson1_1: `X-Amz-Target: ServiceQuotasV20190624.<Operation>`, JSON body;
 *   throttling is HTTP 400 `TooManyRequestsException`.
 *
 * Throttling model: a plain continuous token bucket (capacity, fractional refill per second)
 * per (caller account, region, service, bucket), with the buckets and default limits taken from
 * the limits catalog's own tables (`ec2Needs`, `SERVICE_QUOTAS_LIMITS`), so the simulator and
 * the catalog agree by construction. It is deliberately not Sluice's GCRA code: a test that
 * passes against it shows the admission code matches the provider's model, not itself.
 *
 * The caller account comes from the SigV4 credential scope's access key id (mapped through
 * `accounts`), the region from the same scope: as at AWS, each (account, region) has its own
 * buckets, and signatures are not verified.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidCostError } from '../../shared/limits/errors.js';
import type { BucketLimit, BucketNeed } from '../../shared/limits/types.js';
import { EC2_SERVICE, ec2Needs } from '../../shared/services/ec2.js';
import {
  SERVICE_QUOTAS_LIMITS,
  SERVICE_QUOTAS_SERVICE,
} from '../../shared/services/service-quotas.js';
import { isRecord } from '../../shared/util/objects.js';

/** The services the simulator speaks, by their ids in the request contract. */
export type SimService = typeof EC2_SERVICE | typeof SERVICE_QUOTAS_SERVICE;

/** A bucket of the simulated provider: one per caller account, region, service and bucket name. */
export interface SimBucketKey {
  readonly account: string;
  readonly region: string;
  readonly service: SimService;
  /** Bucket name as the limits catalog names it, e.g. `RunInstances`, `RunInstances:resource`. */
  readonly bucket: string;
}

/**
 * Limit overrides: a function of the bucket (return `undefined` to keep the default), or a map
 * from bucket name (`RunInstances`, `DescribeInstances:unfiltered`, `ListServiceQuotas` …) to a
 * limit for every account and region.
 */
export type SimLimits =
  | ((key: SimBucketKey) => BucketLimit | undefined)
  | Readonly<Record<string, BucketLimit>>;

/** One call as the simulator understood it; what fault predicates see. */
export interface SimCall {
  readonly service: SimService;
  /** EC2 action or Service Quotas operation, e.g. `RunInstances`, `ListServiceQuotas`. */
  readonly action: string;
  readonly account: string;
  readonly region: string;
  /** Access key id from the request's signature; `''` when unsigned. */
  readonly accessKeyId: string;
  /**
   * EC2: the Query parameters, nested by their wire names (`InstanceId: ['i-1']`,
   * `Filter: [{ Name, Value: [...] }]`, values as strings). Service Quotas: the JSON body.
   */
  readonly input: Readonly<Record<string, unknown>>;
}

/** Which calls a fault applies to; every field set must match. */
export interface SimFaultMatch {
  readonly service?: SimService;
  readonly action?: string;
  readonly account?: string;
  readonly region?: string;
  /** Further condition on the call, e.g. its input. */
  readonly when?: (call: SimCall) => boolean;
}

/** How often and when a fault applies. */
export interface SimFaultTiming {
  /** Apply this many times, then retire. @default unlimited */
  readonly times?: number;
  /**
   * Run the call first, then answer with the fault instead of the success: the provider did the
   * work but the caller never heard (what `ClientToken` exists for). Counted as executed.
   * @default false
   */
  readonly afterExecute?: boolean;
}

/** An error answer in the service's own format (EC2 XML, Service Quotas JSON). */
export interface SimErrorFault extends SimFaultMatch, SimFaultTiming {
  readonly kind: 'error';
  /** Error code, e.g. `UnauthorizedOperation`, `InternalError`, `AccessDeniedException`. */
  readonly code: string;
  /** HTTP status; defaults from {@link SIM_ERROR_STATUS}, else 400. */
  readonly status?: number;
  readonly message?: string;
}

/** The connection is destroyed without an answer (the SDK sees `ECONNRESET`). */
export interface SimResetFault extends SimFaultMatch, SimFaultTiming {
  readonly kind: 'reset';
}

/** An injected failure: admitted calls that match it fail this way (throttling comes first). */
export type SimFault = SimErrorFault | SimResetFault;

/** Default HTTP status of well-known error codes, so a fault can name just the code. */
export const SIM_ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  // EC2 (Query): client errors are 400 except authorisation (403); server errors 500/503.
  InvalidParameterValue: 400,
  InvalidParameterCombination: 400,
  MissingParameter: 400,
  UnauthorizedOperation: 403,
  AuthFailure: 401,
  InternalError: 500,
  Unavailable: 503,
  // Service Quotas (awsJson1_1): every modeled error is 400 except ServiceException.
  AccessDeniedException: 400,
  IllegalArgumentException: 400,
  NoSuchResourceException: 400,
  ServiceException: 500,
});

/** Calls that ended each way, for one (account, region, service, action). */
export interface SimCounters {
  /** Every call that named an action; = executed + throttled + duplicateTokens + errors. */
  readonly received: number;
  /** Calls that ran (side effects happened), including those answered by an `afterExecute` fault. */
  readonly executed: number;
  /** Answered `RequestLimitExceeded` / `TooManyRequestsException`. */
  readonly throttled: number;
  /** Answered from the idempotency record of an earlier call with the same `ClientToken`. */
  readonly duplicateTokens: number;
  /** Any other error answer: injected faults, validation, `DryRunOperation`, not found. */
  readonly errors: number;
}

/** {@link SimCounters} of one (account, region, service, action). */
export interface SimActionStats extends SimCounters {
  readonly account: string;
  readonly region: string;
  readonly service: SimService;
  readonly action: string;
}

/** One call that ran, in order. */
export interface SimExecution {
  readonly account: string;
  readonly region: string;
  readonly service: SimService;
  readonly action: string;
  readonly clientToken?: string;
  /** The simulator's clock when the call ran. */
  readonly atMs: number;
}

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
  readonly penalty?: { readonly durationMs: number };
  /** Faults armed from the start (and re-armed by `reset()`). */
  readonly faults?: readonly SimFault[];
}

/** A running simulator. */
export interface ProviderSimulator {
  /** `http://127.0.0.1:<port>`: the `endpoint` for SDK clients of both services. */
  readonly endpoint: string;
  readonly port: number;
  /** Counters per (account, region, service, action), sorted by those fields. */
  stats(): SimActionStats[];
  /** Counters of one (account, region, action), summed over services; zeros when none. */
  statsFor(account: string, region: string, action: string): SimCounters;
  /** Calls that ran, in order (a live view; `reset()` empties it). */
  readonly executions: readonly SimExecution[];
  /**
   * `ClientToken` → number of times a call carrying it ran, across accounts, regions and
   * actions (Sluice derives tokens from globally unique request ids). Exactly-once means 1 each.
   */
  executedClientTokens(): Map<string, number>;
  /** Tokens in a bucket now (refilled to the clock); a bucket never used is full. */
  bucketTokens(key: SimBucketKey): number;
  /** Arms a fault; returns a function that disarms it. */
  inject(fault: SimFault): () => void;
  /**
   * Back to the start: full buckets, no penalties, zero counters, no executions, idempotency
   * records and instances forgotten, injected faults disarmed, the options' faults re-armed.
   */
  reset(): void;
  /** Stops the server and closes every connection; idempotent. */
  close(): Promise<void>;
}

/** EC2's Query API version the SDK sends, and the namespace of its answers. */
const EC2_VERSION = '2016-11-15';
const EC2_XMLNS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`;
const SERVICE_QUOTAS_TARGET_PREFIX = 'ServiceQuotasV20190624.';
const UNSIGNED_ACCOUNT = '000000000000';
/** Larger bodies are refused: nothing the two APIs take comes close, and it bounds memory. */
const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** Tolerance of float arithmetic in bucket levels (0.1/s refills do not add up exactly). */
const EPSILON = 1e-9;

/** Starts the simulator on 127.0.0.1 (loopback only: it answers unauthenticated). */
export async function startProviderSimulator(
  options: ProviderSimulatorOptions = {},
): Promise<ProviderSimulator> {
  const state = new SimulatorState(options);
  const pendingTimers = new Set<NodeJS.Timeout>();

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        let answer: Answer | 'reset';
        try {
          answer = state.handle(req, body);
        } catch (err) {
          // A simulator bug or a bad option (e.g. an invalid limit) must surface in the test
          // as an answer, not as a request that hangs until the client times out.
          answer = ec2Error(new ProviderError('InternalError', String(err), 500), randomUUID());
        }
        if (answer === 'reset') {
          // No answer at all: the SDK sees the socket close under it (ECONNRESET).
          req.socket.destroy();
          return;
        }
        const latency = options.latencyMs ?? 0;
        if (latency <= 0) {
          send(res, answer);
          return;
        }
        const timer = setTimeout(() => {
          pendingTimers.delete(timer);
          send(res, answer);
        }, latency);
        pendingTimers.add(timer);
      },
      () => {
        if (!res.headersSent && !res.destroyed) send(res, { status: 413, headers: {}, body: '' });
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stats: () => state.stats(),
    statsFor: (account, region, action) => state.statsFor(account, region, action),
    executions: state.executions,
    executedClientTokens: () => state.executedClientTokens(),
    bucketTokens: (key) => state.bucketTokens(key),
    inject: (fault) => state.inject(fault),
    reset: () => state.reset(),
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        for (const timer of pendingTimers) clearTimeout(timer);
        pendingTimers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        // Idle keep-alive sockets from SDK clients would otherwise hold close() open.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

interface Bucket {
  readonly limit: BucketLimit;
  tokens: number;
  updatedMs: number;
}

interface MutableCounters {
  received: number;
  executed: number;
  throttled: number;
  duplicateTokens: number;
  errors: number;
}

interface ArmedFault {
  readonly fault: SimFault;
  remaining: number;
}

interface IdempotencyRecord {
  /** The call's parameters other than the token: a re-use with others is a mismatch, as at EC2. */
  readonly fingerprint: string;
  readonly render: (requestId: string) => string;
}

type InstanceStateName =
  | 'pending'
  | 'running'
  | 'shutting-down'
  | 'terminated'
  | 'stopping'
  | 'stopped';

const STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

interface SimInstance {
  readonly instanceId: string;
  readonly reservationId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly launchTime: string;
  readonly launchIndex: number;
  readonly availabilityZone: string;
  readonly ownerId: string;
  readonly clientToken?: string;
  state: InstanceStateName;
  readonly tags: Map<string, string>;
}

/** A provider-side error, answered in the service's format. */
class ProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = SIM_ERROR_STATUS[code] ?? 400,
  ) {
    super(message);
  }
}

class SimulatorState {
  readonly executions: SimExecution[] = [];
  private readonly buckets = new Map<string, Bucket>();
  private readonly penalties = new Map<string, number>();
  private readonly counters = new Map<string, { key: ActionKey; c: MutableCounters }>();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  private readonly instances = new Map<string, Map<string, SimInstance>>();
  private faults: ArmedFault[] = [];
  private nextId = 1;
  private readonly clock: () => number;

  constructor(private readonly options: ProviderSimulatorOptions) {
    this.clock = options.clock ?? Date.now;
    this.armOptionFaults();
  }

  // -- public views ---------------------------------------------------------------------------

  stats(): SimActionStats[] {
    return [...this.counters.values()]
      .map(({ key, c }) => ({ ...key, ...c }))
      .sort(
        (a, b) =>
          a.account.localeCompare(b.account) ||
          a.region.localeCompare(b.region) ||
          a.service.localeCompare(b.service) ||
          a.action.localeCompare(b.action),
      );
  }

  statsFor(account: string, region: string, action: string): SimCounters {
    const sum: MutableCounters = zeroCounters();
    for (const { key, c } of this.counters.values()) {
      if (key.account !== account || key.region !== region || key.action !== action) continue;
      sum.received += c.received;
      sum.executed += c.executed;
      sum.throttled += c.throttled;
      sum.duplicateTokens += c.duplicateTokens;
      sum.errors += c.errors;
    }
    return sum;
  }

  executedClientTokens(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.executions) {
      if (e.clientToken !== undefined) out.set(e.clientToken, (out.get(e.clientToken) ?? 0) + 1);
    }
    return out;
  }

  bucketTokens(key: SimBucketKey): number {
    const bucket = this.buckets.get(bucketId(key));
    if (bucket === undefined) return this.limitFor(key, undefined).burst;
    this.refill(bucket, this.clock());
    return bucket.tokens;
  }

  inject(fault: SimFault): () => void {
    const armed: ArmedFault = { fault, remaining: fault.times ?? Number.POSITIVE_INFINITY };
    this.faults.push(armed);
    return () => {
      this.faults = this.faults.filter((f) => f !== armed);
    };
  }

  reset(): void {
    this.executions.length = 0; // in place: callers hold the array
    this.buckets.clear();
    this.penalties.clear();
    this.counters.clear();
    this.idempotency.clear();
    this.instances.clear();
    this.faults = [];
    this.armOptionFaults();
  }

  // -- request handling -----------------------------------------------------------------------

  /** Decides the answer to one request, synchronously: the bucket check and debit are atomic. */
  handle(req: IncomingMessage, body: string): Answer | 'reset' {
    const { accessKeyId, region: signedRegion } = parseAuthorization(req.headers.authorization);
    const account =
      accessKeyId === '' ? UNSIGNED_ACCOUNT : (this.options.accounts?.[accessKeyId] ?? accessKeyId);
    const region = signedRegion || (this.options.defaultRegion ?? 'us-east-1');
    const target = header(req, 'x-amz-target');
    if (target !== undefined) {
      return this.handleServiceQuotas(target, body, { account, region, accessKeyId });
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params = new URLSearchParams(req.method === 'GET' ? url.search : body);
    return this.handleEc2(params, { account, region, accessKeyId });
  }

  private handleEc2(params: URLSearchParams, who: Caller): Answer | 'reset' {
    const requestId = randomUUID();
    const action = params.get('Action');
    if (!action) {
      return ec2Error(
        new ProviderError('MissingAction', 'The request must contain the parameter Action'),
        requestId,
      );
    }
    const input = nestQueryParams(params);
    const call: SimCall = { service: EC2_SERVICE, action, ...who, input };
    const counters = this.countersOf(call);
    counters.received++;

    let needs: BucketNeed[];
    try {
      needs = ec2Needs(action, ec2CatalogInput(input));
    } catch (err) {
      // A missing or malformed MaxCount / InstanceId list: EC2 rejects the request before running it.
      if (!(err instanceof InvalidCostError)) throw err;
      counters.errors++;
      const field = action === 'RunInstances' ? 'MaxCount' : 'InstanceId';
      return ec2Error(missingOrInvalid(params, field), requestId);
    }

    const clientToken = params.get('ClientToken') ?? undefined;
    const tokenKey =
      clientToken === undefined
        ? undefined
        : [who.account, who.region, action, clientToken].join('\n');
    const known = tokenKey === undefined ? undefined : this.idempotency.get(tokenKey);
    // A repeat launches nothing: it spends its request token but not instance tokens.
    const throttle = this.admit(call, known === undefined ? needs : needs.slice(0, 1));
    if (throttle !== undefined) {
      counters.throttled++;
      return ec2Throttled(requestId, throttle.retryAfterSeconds);
    }

    const before = this.takeFault(call, false);
    if (before !== undefined) {
      counters.errors++;
      return before.kind === 'reset' ? 'reset' : ec2Error(faultError(before), requestId);
    }

    let answer: Answer;
    if (known !== undefined) {
      if (known.fingerprint !== fingerprint(params)) {
        counters.errors++;
        return ec2Error(
          new ProviderError(
            'IdempotentParameterMismatch',
            'The client token you have provided is associated with a resource that is already deleted or has different parameters.',
          ),
          requestId,
        );
      }
      counters.duplicateTokens++;
      answer = xmlAnswer(known.render(requestId), requestId);
    } else {
      let render: (requestId: string) => string;
      try {
        render = this.executeEc2(call, params, clientToken);
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        counters.errors++;
        return ec2Error(err, requestId);
      }
      counters.executed++;
      this.executions.push({
        ...executionOf(call, this.clock()),
        ...(clientToken ? { clientToken } : {}),
      });
      if (tokenKey !== undefined) {
        this.idempotency.set(tokenKey, { fingerprint: fingerprint(params), render });
      }
      answer = xmlAnswer(render(requestId), requestId);
    }

    const after = this.takeFault(call, true);
    if (after !== undefined) {
      return after.kind === 'reset' ? 'reset' : ec2Error(faultError(after), requestId);
    }
    return answer;
  }

  private handleServiceQuotas(target: string, body: string, who: Caller): Answer | 'reset' {
    const requestId = randomUUID();
    if (!target.startsWith(SERVICE_QUOTAS_TARGET_PREFIX)) {
      return jsonError(
        new ProviderError('UnknownOperationException', `Unknown target ${target}`),
        requestId,
      );
    }
    const action = target.slice(SERVICE_QUOTAS_TARGET_PREFIX.length);
    let input: Record<string, unknown>;
    try {
      const parsed: unknown = body === '' ? {} : JSON.parse(body);
      input = isRecord(parsed) ? parsed : {};
    } catch {
      return jsonError(
        new ProviderError('SerializationException', 'Malformed JSON body'),
        requestId,
      );
    }
    const call: SimCall = { service: SERVICE_QUOTAS_SERVICE, action, ...who, input };
    const counters = this.countersOf(call);
    counters.received++;

    const throttle = this.admit(call, [serviceQuotasNeed(action)]);
    if (throttle !== undefined) {
      counters.throttled++;
      return jsonError(
        new ProviderError('TooManyRequestsException', 'Rate exceeded', 400),
        requestId,
        throttle.retryAfterSeconds,
      );
    }
    const before = this.takeFault(call, false);
    if (before !== undefined) {
      counters.errors++;
      return before.kind === 'reset' ? 'reset' : jsonError(faultError(before), requestId);
    }
    let result: unknown;
    try {
      result = serviceQuotasResult(call);
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      counters.errors++;
      return jsonError(err, requestId);
    }
    counters.executed++;
    this.executions.push(executionOf(call, this.clock()));
    const after = this.takeFault(call, true);
    if (after !== undefined) {
      return after.kind === 'reset' ? 'reset' : jsonError(faultError(after), requestId);
    }
    return {
      status: 200,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
      body: JSON.stringify(result),
    };
  }

  // -- throttling -----------------------------------------------------------------------------

  /**
   * Debits every bucket the call needs, or none: EC2 does not half-admit a call. Returns
   * `undefined` when admitted, else when it would fit.
   */
  private admit(
    call: SimCall,
    needs: readonly BucketNeed[],
  ): { retryAfterSeconds?: number } | undefined {
    const now = this.clock();
    const penalty = this.options.penalty;
    const penaltyKey = [call.account, call.region, call.service, call.action].join('\n');
    if (penalty !== undefined) {
      const until = this.penalties.get(penaltyKey);
      if (until !== undefined && now < until) {
        // Every call during the penalty extends it: hammering a provider like this never ends.
        this.penalties.set(penaltyKey, now + penalty.durationMs);
        return this.throttleAnswer(penalty.durationMs / 1000);
      }
    }
    const buckets = needs.map((need) => {
      const key: SimBucketKey = {
        account: call.account,
        region: call.region,
        service: call.service,
        bucket: need.bucket,
      };
      const bucket = this.bucket(key, need.limit, now);
      return { bucket, cost: need.cost };
    });
    let waitSeconds = 0;
    for (const { bucket, cost } of buckets) {
      if (bucket.tokens + EPSILON < cost) {
        waitSeconds = Math.max(waitSeconds, (cost - bucket.tokens) / bucket.limit.rate);
      }
    }
    if (waitSeconds > 0) {
      if (penalty !== undefined) {
        this.penalties.set(penaltyKey, now + penalty.durationMs);
        waitSeconds = Math.max(waitSeconds, penalty.durationMs / 1000);
      }
      return this.throttleAnswer(waitSeconds);
    }
    for (const { bucket, cost } of buckets) bucket.tokens = Math.max(0, bucket.tokens - cost);
    return undefined;
  }

  private throttleAnswer(waitSeconds: number): { retryAfterSeconds?: number } {
    if (this.options.retryAfter !== true) return {};
    return { retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds - EPSILON)) };
  }

  private bucket(key: SimBucketKey, defaultLimit: BucketLimit, now: number): Bucket {
    const id = bucketId(key);
    let bucket = this.buckets.get(id);
    if (bucket === undefined) {
      const limit = this.limitFor(key, defaultLimit);
      // A bucket nobody has used yet is full, as an account's buckets are.
      bucket = { limit, tokens: limit.burst, updatedMs: now };
      this.buckets.set(id, bucket);
      return bucket;
    }
    this.refill(bucket, now);
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    // A clock that steps back (a test resetting its fake clock) refills nothing rather than drains.
    const elapsedMs = Math.max(0, now - bucket.updatedMs);
    bucket.tokens = Math.min(
      bucket.limit.burst,
      bucket.tokens + (elapsedMs / 1000) * bucket.limit.rate,
    );
    bucket.updatedMs = Math.max(bucket.updatedMs, now);
  }

  private limitFor(key: SimBucketKey, defaultLimit: BucketLimit | undefined): BucketLimit {
    const limits = this.options.limits;
    const override = typeof limits === 'function' ? limits(key) : limits?.[key.bucket];
    const limit = override ?? defaultLimit ?? this.defaultLimit(key);
    if (!(limit.rate > 0) || !(limit.burst >= 1)) {
      throw new RangeError(
        `Invalid simulator limit for ${bucketId(key)}: ${JSON.stringify(limit)}`,
      );
    }
    return limit;
  }

  /** The default limit of a bucket named without a call (for {@link bucketTokens}). */
  private defaultLimit(key: SimBucketKey): BucketLimit {
    if (key.service === SERVICE_QUOTAS_SERVICE) {
      const limit = SERVICE_QUOTAS_LIMITS.buckets[key.bucket];
      if (limit !== undefined) return limit;
      throw new RangeError(`Unknown Service Quotas bucket ${key.bucket}`);
    }
    // Resource buckets and the unfiltered Describe buckets are named `<Action>:<suffix>`; ask
    // the catalog with an input that selects that bucket.
    const [action = '', suffix] = key.bucket.split(':');
    const input: Record<string, unknown> =
      suffix === 'unfiltered' ? {} : { MaxCount: 1, InstanceIds: ['i-0'], MaxResults: 5 };
    const need = ec2Needs(action, input).find((n) => n.bucket === key.bucket);
    if (need === undefined) throw new RangeError(`Unknown EC2 bucket ${key.bucket}`);
    return need.limit;
  }

  // -- faults ---------------------------------------------------------------------------------

  private armOptionFaults(): void {
    for (const fault of this.options.faults ?? []) this.inject(fault);
  }

  private takeFault(call: SimCall, afterExecute: boolean): SimFault | undefined {
    const armed = this.faults.find(
      ({ fault }) => (fault.afterExecute ?? false) === afterExecute && matches(fault, call),
    );
    if (armed === undefined) return undefined;
    armed.remaining--;
    if (armed.remaining <= 0) this.faults = this.faults.filter((f) => f !== armed);
    return armed.fault;
  }

  // -- counters -------------------------------------------------------------------------------

  private countersOf(call: SimCall): MutableCounters {
    const id = [call.account, call.region, call.service, call.action].join('\n');
    let entry = this.counters.get(id);
    if (entry === undefined) {
      const key: ActionKey = {
        account: call.account,
        region: call.region,
        service: call.service,
        action: call.action,
      };
      entry = { key, c: zeroCounters() };
      this.counters.set(id, entry);
    }
    return entry.c;
  }

  // -- EC2 actions ----------------------------------------------------------------------------

  /** Runs an admitted EC2 call; returns how to render its answer (kept for token replays). */
  private executeEc2(
    call: SimCall,
    params: URLSearchParams,
    clientToken: string | undefined,
  ): (requestId: string) => string {
    if (params.get('DryRun') === 'true') {
      // EC2's answer to a DryRun that would have succeeded: an error, 412.
      throw new ProviderError(
        'DryRunOperation',
        'Request would have succeeded, but DryRun flag is set.',
        412,
      );
    }
    switch (call.action) {
      case 'RunInstances':
        return this.runInstances(call, params, clientToken);
      case 'DescribeInstances':
        return this.describeInstances(call);
      case 'TerminateInstances':
        return this.changeStates(call, 'TerminateInstancesResponse', (from) =>
          from === 'terminated' ? ['terminated', 'terminated'] : ['shutting-down', 'terminated'],
        );
      case 'StopInstances':
        return this.changeStates(call, 'StopInstancesResponse', (from) =>
          from === 'pending' || from === 'running' ? ['stopping', 'stopped'] : [from, from],
        );
      case 'StartInstances':
        return this.changeStates(call, 'StartInstancesResponse', (from) =>
          from === 'stopped' || from === 'stopping' ? ['pending', 'running'] : [from, from],
        );
      case 'CreateTags':
        return this.createTags(call);
      default:
        return (requestId) => ec2Generic(call.action, requestId);
    }
  }

  private runInstances(
    call: SimCall,
    params: URLSearchParams,
    clientToken: string | undefined,
  ): (requestId: string) => string {
    const maxCount = Number(params.get('MaxCount'));
    const minCount = params.has('MinCount') ? Number(params.get('MinCount')) : maxCount;
    if (!Number.isSafeInteger(minCount) || minCount < 1 || minCount > maxCount) {
      throw new ProviderError(
        'InvalidParameterValue',
        `Value (${params.get('MinCount')}) for parameter minCount is invalid. Expected a positive number not greater than maxCount.`,
      );
    }
    const store = this.instancesOf(call);
    const reservationId = `r-${this.id()}`;
    const tags = tagsFor(call.input, 'instance');
    const launched: SimInstance[] = [];
    for (let i = 0; i < maxCount; i++) {
      const instance: SimInstance = {
        instanceId: `i-${this.id()}`,
        reservationId,
        imageId: params.get('ImageId') ?? 'ami-00000000000000000',
        instanceType: params.get('InstanceType') ?? 'm1.small',
        launchTime: new Date(this.clock()).toISOString(),
        launchIndex: i,
        availabilityZone: params.get('Placement.AvailabilityZone') ?? `${call.region}a`,
        ownerId: call.account,
        ...(clientToken ? { clientToken } : {}),
        state: 'pending',
        tags: new Map(tags),
      };
      launched.push(instance);
      store.set(instance.instanceId, instance);
    }
    // The answer shows the instances as launched (pending); state changes happen at once, so a
    // later Describe sees them running.
    const snapshot = launched.map((instance) =>
      instanceXml({ ...instance, tags: new Map(instance.tags) }),
    );
    for (const instance of launched) instance.state = 'running';
    return (requestId) =>
      ec2Response(
        'RunInstancesResponse',
        requestId,
        `<reservationId>${reservationId}</reservationId><ownerId>${esc(call.account)}</ownerId>` +
          `<groupSet/><instancesSet>${snapshot.join('')}</instancesSet>`,
      );
  }

  private describeInstances(call: SimCall): (requestId: string) => string {
    const store = this.instancesOf(call);
    const ids = stringList(call.input.InstanceId);
    let selected: SimInstance[];
    if (ids.length > 0) {
      const missing = ids.filter((id) => !store.has(id));
      if (missing.length > 0) throw notFound(missing);
      selected = ids.map((id) => store.get(id)).filter((i): i is SimInstance => i !== undefined);
    } else {
      selected = [...store.values()];
    }
    for (const filter of recordList(call.input.Filter)) {
      const name = typeof filter.Name === 'string' ? filter.Name : '';
      const values = new Set(stringList(filter.Value));
      selected = selected.filter((instance) => filterMatches(instance, name, values));
    }
    // Grouped by reservation as EC2 does; no pagination (all in one page).
    const byReservation = new Map<string, SimInstance[]>();
    for (const instance of selected) {
      const group = byReservation.get(instance.reservationId) ?? [];
      group.push(instance);
      byReservation.set(instance.reservationId, group);
    }
    const reservations = [...byReservation].map(
      ([reservationId, group]) =>
        `<item><reservationId>${reservationId}</reservationId><ownerId>${esc(call.account)}</ownerId>` +
        `<groupSet/><instancesSet>${group.map(instanceXml).join('')}</instancesSet></item>`,
    );
    const xml = `<reservationSet>${reservations.join('')}</reservationSet>`;
    return (requestId) => ec2Response('DescribeInstancesResponse', requestId, xml);
  }

  private changeStates(
    call: SimCall,
    element: string,
    transition: (from: InstanceStateName) => [shown: InstanceStateName, stored: InstanceStateName],
  ): (requestId: string) => string {
    const store = this.instancesOf(call);
    const ids = stringList(call.input.InstanceId);
    const missing = ids.filter((id) => !store.has(id));
    if (missing.length > 0) throw notFound(missing);
    const items = ids.map((id) => {
      const instance = store.get(id) as SimInstance;
      const previous = instance.state;
      const [shown, stored] = transition(previous);
      instance.state = stored;
      return (
        `<item><instanceId>${esc(id)}</instanceId>` +
        `<currentState>${stateXml(shown)}</currentState>` +
        `<previousState>${stateXml(previous)}</previousState></item>`
      );
    });
    const xml = `<instancesSet>${items.join('')}</instancesSet>`;
    return (requestId) => ec2Response(element, requestId, xml);
  }

  private createTags(call: SimCall): (requestId: string) => string {
    const store = this.instancesOf(call);
    const tags = tagPairs(call.input.Tag);
    // Resources other than the simulated instances are accepted and not recorded.
    for (const id of stringList(call.input.ResourceId)) {
      const instance = store.get(id);
      if (instance !== undefined) for (const [k, v] of tags) instance.tags.set(k, v);
    }
    return (requestId) => ec2Generic('CreateTags', requestId);
  }

  private instancesOf(call: SimCall): Map<string, SimInstance> {
    const id = `${call.account}\n${call.region}`;
    let store = this.instances.get(id);
    if (store === undefined) {
      store = new Map();
      this.instances.set(id, store);
    }
    return store;
  }

  /** 17 hex digits, as EC2's ids have; sequential so tests can predict them. */
  private id(): string {
    return (this.nextId++).toString(16).padStart(17, '0');
  }
}

type ActionKey = Omit<SimActionStats, keyof SimCounters>;

interface Caller {
  readonly account: string;
  readonly region: string;
  readonly accessKeyId: string;
}

function zeroCounters(): MutableCounters {
  return { received: 0, executed: 0, throttled: 0, duplicateTokens: 0, errors: 0 };
}

function bucketId(key: SimBucketKey): string {
  return [key.account, key.region, key.service, key.bucket].join('\n');
}

function executionOf(call: SimCall, atMs: number): SimExecution {
  return {
    account: call.account,
    region: call.region,
    service: call.service,
    action: call.action,
    atMs,
  };
}

function matches(fault: SimFault, call: SimCall): boolean {
  return (
    (fault.service === undefined || fault.service === call.service) &&
    (fault.action === undefined || fault.action === call.action) &&
    (fault.account === undefined || fault.account === call.account) &&
    (fault.region === undefined || fault.region === call.region) &&
    (fault.when === undefined || fault.when(call))
  );
}

function faultError(fault: SimErrorFault): ProviderError {
  return new ProviderError(fault.code, fault.message ?? `Simulated ${fault.code}.`, fault.status);
}

// -- request parsing ------------------------------------------------------------------------

/** `AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ec2/aws4_request, SignedHeaders=…` */
function parseAuthorization(value: string | undefined): { accessKeyId: string; region: string } {
  const match = /Credential=([^/,\s]+)\/[^/]*\/([^/]*)\//.exec(value ?? '');
  return { accessKeyId: match?.[1] ?? '', region: match?.[2] ?? '' };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RangeError('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * EC2 Query parameters nested by their dotted names: `Filter.1.Name=a&Filter.1.Value.1=b` →
 * `{ Filter: [{ Name: 'a', Value: ['b'] }] }`. Numeric segments (1-based) become arrays in index
 * order; values stay strings, as on the wire.
 */
export function nestQueryParams(params: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [name, value] of params) {
    if (name === 'Action' || name === 'Version') continue;
    const parts = name.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      const next = node[part];
      if (isRecord(next)) {
        node = next;
      } else {
        const created: Record<string, unknown> = {};
        node[part] = created;
        node = created;
      }
    }
    node[parts[parts.length - 1] as string] = value;
  }
  return arraysFromIndices(root) as Record<string, unknown>;
}

function arraysFromIndices(value: unknown): unknown {
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => arraysFromIndices(value[k]));
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = arraysFromIndices(value[k]);
  return out;
}

/** The call's input as the limits catalog reads it (SDK member names and types). */
function ec2CatalogInput(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input.MaxCount !== undefined) {
    const n = Number(input.MaxCount);
    out.MaxCount = Number.isFinite(n) ? n : input.MaxCount;
  }
  if (input.InstanceId !== undefined) out.InstanceIds = input.InstanceId;
  if (input.Filter !== undefined) out.Filters = input.Filter;
  if (input.MaxResults !== undefined) out.MaxResults = input.MaxResults;
  if (input.NextToken !== undefined) out.NextToken = input.NextToken;
  return out;
}

/** The call's parameters except its token, in a stable order. */
function fingerprint(params: URLSearchParams): string {
  return [...params]
    .filter(([name]) => name !== 'ClientToken')
    .map(([name, value]) => `${name}=${value}`)
    .sort()
    .join('&');
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function recordList(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function tagPairs(value: unknown): [string, string][] {
  return recordList(value)
    .filter((t) => typeof t.Key === 'string')
    .map((t) => [t.Key as string, typeof t.Value === 'string' ? t.Value : '']);
}

/** Tags of `TagSpecification.N` entries for a resource type. */
function tagsFor(
  input: Readonly<Record<string, unknown>>,
  resourceType: string,
): [string, string][] {
  return recordList(input.TagSpecification)
    .filter((spec) => spec.ResourceType === resourceType)
    .flatMap((spec) => tagPairs(spec.Tag));
}

function filterMatches(instance: SimInstance, name: string, values: ReadonlySet<string>): boolean {
  if (name === 'instance-id') return values.has(instance.instanceId);
  if (name === 'instance-state-name') return values.has(instance.state);
  if (name === 'instance-type') return values.has(instance.instanceType);
  if (name === 'tag-key') return [...instance.tags.keys()].some((k) => values.has(k));
  if (name.startsWith('tag:')) {
    const value = instance.tags.get(name.slice(4));
    return value !== undefined && values.has(value);
  }
  // EC2 rejects filter names it does not know; silently ignoring one would match too much.
  throw new ProviderError('InvalidParameterValue', `The filter '${name}' is invalid`);
}

function missingOrInvalid(params: URLSearchParams, field: string): ProviderError {
  const present = field === 'MaxCount' ? params.has('MaxCount') : params.has('InstanceId.1');
  return present
    ? new ProviderError('InvalidParameterValue', `Invalid value for parameter ${field}`)
    : new ProviderError('MissingParameter', `The request must contain the parameter ${field}`);
}

function notFound(ids: readonly string[]): ProviderError {
  const list = ids.join(', ');
  return new ProviderError(
    'InvalidInstanceID.NotFound',
    ids.length === 1
      ? `The instance ID '${list}' does not exist`
      : `The instance IDs '${list}' do not exist`,
  );
}

// -- answers --------------------------------------------------------------------------------

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, {
    ...answer.headers,
    'content-length': Buffer.byteLength(answer.body).toString(),
  });
  res.end(answer.body);
}

function esc(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function xmlAnswer(body: string, requestId: string): Answer {
  return { status: 200, headers: ec2Headers(requestId), body };
}

/** Also in a header, where the SDK looks for `$metadata.requestId`. */
function ec2Headers(requestId: string): Record<string, string> {
  return { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId };
}

function ec2Response(element: string, requestId: string, inner: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${element} xmlns="${EC2_XMLNS}">` +
    `<requestId>${requestId}</requestId>${inner}</${element}>`
  );
}

/** EC2's answer to actions that return only a flag (`CreateTags`, `DeleteKeyPair` …). */
function ec2Generic(action: string, requestId: string): string {
  return ec2Response(`${action}Response`, requestId, '<return>true</return>');
}

/** EC2's error document: `<Response><Errors><Error>…</Error></Errors><RequestID>…`. */
function ec2Error(error: ProviderError, requestId: string, retryAfterSeconds?: number): Answer {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>' +
    `<Code>${esc(error.code)}</Code><Message>${esc(error.message)}</Message>` +
    `</Error></Errors><RequestID>${requestId}</RequestID></Response>`;
  return {
    status: error.status,
    headers: {
      ...ec2Headers(requestId),
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    },
    body,
  };
}

function ec2Throttled(requestId: string, retryAfterSeconds: number | undefined): Answer {
  return ec2Error(
    new ProviderError('RequestLimitExceeded', 'Request limit exceeded.', 503),
    requestId,
    retryAfterSeconds,
  );
}

function stateXml(state: InstanceStateName): string {
  return `<code>${STATE_CODES[state]}</code><name>${state}</name>`;
}

function instanceXml(instance: SimInstance): string {
  const tags = [...instance.tags]
    .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
    .join('');
  return (
    `<item><instanceId>${instance.instanceId}</instanceId>` +
    `<imageId>${esc(instance.imageId)}</imageId>` +
    `<instanceState>${stateXml(instance.state)}</instanceState>` +
    `<amiLaunchIndex>${instance.launchIndex}</amiLaunchIndex>` +
    `<instanceType>${esc(instance.instanceType)}</instanceType>` +
    `<launchTime>${instance.launchTime}</launchTime>` +
    `<placement><availabilityZone>${esc(instance.availabilityZone)}</availabilityZone></placement>` +
    (instance.clientToken === undefined
      ? ''
      : `<clientToken>${esc(instance.clientToken)}</clientToken>`) +
    (tags === '' ? '' : `<tagSet>${tags}</tagSet>`) +
    '</item>'
  );
}

function jsonError(error: ProviderError, requestId: string, retryAfterSeconds?: number): Answer {
  return {
    status: error.status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': requestId,
      // The awsJson protocols name the error in this header and in `__type`; the SDK reads either.
      'x-amzn-errortype': error.code,
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    },
    body: JSON.stringify({ __type: error.code, message: error.message }),
  };
}

// -- Service Quotas -------------------------------------------------------------------------

function serviceQuotasNeed(action: string): BucketNeed {
  const bucket = SERVICE_QUOTAS_LIMITS.operations?.[action] ?? SERVICE_QUOTAS_LIMITS.defaultBucket;
  const limit = SERVICE_QUOTAS_LIMITS.buckets[bucket];
  if (limit === undefined) throw new Error(`Service Quotas bucket ${bucket} has no limit`);
  return { bucket, limit, cost: 1 };
}

interface QuotaSeed {
  readonly code: string;
  readonly name: string;
  readonly value: number;
}

/** A few real quotas, so answers look like the service's. */
const QUOTAS: Readonly<Record<string, { name: string; quotas: readonly QuotaSeed[] }>> = {
  ec2: {
    name: 'Amazon Elastic Compute Cloud (Amazon EC2)',
    quotas: [
      {
        code: 'L-1216C47A',
        name: 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances',
        value: 1152,
      },
      {
        code: 'L-34B43A08',
        name: 'All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests',
        value: 1152,
      },
      { code: 'L-0263D0A3', name: 'EC2-VPC Elastic IPs', value: 5 },
    ],
  },
  vpc: {
    name: 'Amazon Virtual Private Cloud (Amazon VPC)',
    quotas: [
      { code: 'L-F678F1CE', name: 'VPCs per Region', value: 5 },
      { code: 'L-407747CB', name: 'Subnets per VPC', value: 200 },
    ],
  },
  lambda: {
    name: 'AWS Lambda',
    quotas: [{ code: 'L-B99A9384', name: 'Concurrent executions', value: 1000 }],
  },
};

function quotaJson(call: SimCall, serviceCode: string, seed: QuotaSeed): Record<string, unknown> {
  return {
    ServiceCode: serviceCode,
    ServiceName: QUOTAS[serviceCode]?.name ?? serviceCode,
    QuotaArn: `arn:aws:servicequotas:${call.region}:${call.account}:${serviceCode}/${seed.code}`,
    QuotaCode: seed.code,
    QuotaName: seed.name,
    Value: seed.value,
    Unit: 'None',
    Adjustable: true,
    GlobalQuota: false,
  };
}

function requiredString(input: Readonly<Record<string, unknown>>, field: string): string {
  const value = input[field];
  if (typeof value === 'string' && value !== '') return value;
  throw new ProviderError('IllegalArgumentException', `${field} is required`);
}

function serviceQuotasResult(call: SimCall): unknown {
  switch (call.action) {
    case 'ListServiceQuotas':
    case 'ListAWSDefaultServiceQuotas': {
      const serviceCode = requiredString(call.input, 'ServiceCode');
      // An unknown service code lists nothing rather than failing: other services just have
      // no quotas seeded here.
      const quotas = QUOTAS[serviceCode]?.quotas ?? [];
      return { Quotas: quotas.map((seed) => quotaJson(call, serviceCode, seed)) };
    }
    case 'GetServiceQuota':
    case 'GetAWSDefaultServiceQuota': {
      const serviceCode = requiredString(call.input, 'ServiceCode');
      const quotaCode = requiredString(call.input, 'QuotaCode');
      const seed = QUOTAS[serviceCode]?.quotas.find((q) => q.code === quotaCode);
      if (seed === undefined) {
        throw new ProviderError(
          'NoSuchResourceException',
          `The request failed because the specified quota ${serviceCode}/${quotaCode} does not exist.`,
        );
      }
      return { Quota: quotaJson(call, serviceCode, seed) };
    }
    default:
      return {};
  }
}
