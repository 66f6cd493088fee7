/**
 * The shapes every part of the simulator shares: who is calling (from the SigV4 credential
 * scope), the call as the simulator understood it, the answer it sends, and the codec each
 * protocol provides for throttling and error answers. Kept apart so the throttle model, faults,
 * counters and services depend on these shapes, not on one another or on HTTP.
 */
import type { EC2_SERVICE } from '../../shared/services/ec2.js';
import type { SERVICE_QUOTAS_SERVICE } from '../../shared/services/service-quotas.js';
import type { ProviderError } from './errors.js';

/** The services the simulator speaks, by their ids in the request contract. */
export type SimService = typeof EC2_SERVICE | typeof SERVICE_QUOTAS_SERVICE;

/** The caller of one request: the account and region whose buckets it spends. */
export interface Caller {
  readonly account: string;
  readonly region: string;
  /** Access key id from the request's signature; `''` when unsigned. */
  readonly accessKeyId: string;
}

/** One call as the simulator understood it; what fault predicates see. */
export interface SimCall extends Caller {
  readonly service: SimService;
  /** EC2 action or Service Quotas operation, e.g. `RunInstances`, `ListServiceQuotas`. */
  readonly action: string;
  /**
   * EC2: the Query parameters, nested by their wire names (`InstanceId: ['i-1']`,
   * `Filter: [{ Name, Value: [...] }]`, values as strings). Service Quotas: the JSON body.
   */
  readonly input: Readonly<Record<string, unknown>>;
}

/** An HTTP answer, ready to send. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * What the simulator does with a request: answer it, drop the connection (`'reset'`), or never
 * answer (`'hang'`).
 */
export type Reply = Answer | 'reset' | 'hang';

/** How a protocol renders the answers every service shares: errors and throttling. */
export interface ProtocolCodec {
  /** The error in the service's format. */
  error(error: ProviderError, requestId: string): Answer;
  /** The service's throttling error, with `Retry-After` when `retryAfterSeconds` is given. */
  throttled(requestId: string, retryAfterSeconds: number | undefined): Answer;
}

/** Account of unsigned requests. */
export const UNSIGNED_ACCOUNT = '000000000000';

/**
 * The caller of a request, from its `Authorization` header's credential scope
 * (`AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ec2/aws4_request, …`): the access key
 * maps to an account through `accounts` (an unlisted key is its own account), the region is the
 * scope's. Signatures are not verified.
 */
export function callerOf(
  authorization: string | undefined,
  options: {
    readonly accounts?: Readonly<Record<string, string>>;
    readonly defaultRegion?: string;
  },
): Caller {
  const match = /Credential=([^/,\s]+)\/[^/]*\/([^/]*)\//.exec(authorization ?? '');
  const accessKeyId = match?.[1] ?? '';
  const signedRegion = match?.[2] ?? '';
  return {
    account:
      accessKeyId === '' ? UNSIGNED_ACCOUNT : (options.accounts?.[accessKeyId] ?? accessKeyId),
    region: signedRegion || (options.defaultRegion ?? 'us-east-1'),
    accessKeyId,
  };
}
