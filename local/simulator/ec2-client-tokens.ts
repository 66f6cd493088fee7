/**
 * EC2's `ClientToken` idempotency: a call repeating a token (same account, region and action)
 * answers the first call's result without running again, and a token re-used with other
 * parameters is `IdempotentParameterMismatch`, as EC2 documents
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html). This is what lets
 * Sluice retry a call whose answer was lost without launching twice.
 */
import type { Answer, SimCall } from './call.js';
import type { Render } from './ec2-instances.js';
import { xmlAnswer } from './ec2-protocol.js';
import { ProviderError } from './errors.js';

/** An earlier call's answer, kept under its `ClientToken`. */
export interface ClientTokenRecord {
  /** The call's parameters other than the token: a re-use with others is a mismatch, as at EC2. */
  readonly fingerprint: string;
  readonly render: Render;
}

/** The idempotency records of every account and region, in memory. */
export class ClientTokens {
  /** `account\nregion\naction\ntoken` → the first call's answer. */
  private readonly records = new Map<string, ClientTokenRecord>();

  /** The record of an earlier call by the same account, region and action with this token. */
  recall(call: SimCall, clientToken: string | undefined): ClientTokenRecord | undefined {
    return clientToken === undefined ? undefined : this.records.get(tokenKey(call, clientToken));
  }

  /** Keeps the answer of a call that ran under its token (a call without one is not kept). */
  remember(
    call: SimCall,
    clientToken: string | undefined,
    params: URLSearchParams,
    render: Render,
  ): void {
    if (clientToken === undefined) return;
    this.records.set(tokenKey(call, clientToken), { fingerprint: fingerprint(params), render });
  }

  /**
   * The answer of a call repeating a token: the first call's content under a new request id.
   * @throws {ProviderError} `IdempotentParameterMismatch` when its other parameters differ.
   */
  replay(record: ClientTokenRecord, params: URLSearchParams, requestId: string): Answer {
    if (record.fingerprint !== fingerprint(params)) {
      throw new ProviderError(
        'IdempotentParameterMismatch',
        'The client token you have provided is associated with a resource that is already deleted or has different parameters.',
      );
    }
    return xmlAnswer(record.render(requestId), requestId);
  }

  /** Forgets every record. */
  clear(): void {
    this.records.clear();
  }
}

/** Tokens are scoped to the caller's account and region and to the action. */
function tokenKey(call: SimCall, clientToken: string): string {
  return [call.account, call.region, call.action, clientToken].join('\n');
}

/** The call's parameters except its token, in a stable order. */
function fingerprint(params: URLSearchParams): string {
  return [...params]
    .filter(([name]) => name !== 'ClientToken')
    .map(([name, value]) => `${name}=${value}`)
    .sort()
    .join('&');
}
