/**
 * The fingerprint of a read: what makes two requests the same provider call, so that they may
 * share one — the target (account, region) and the call (service, operation, input), as canonical
 * JSON (shared/util/canonical-json.ts), hashed. Everything else a request carries (its id,
 * producer, priority, deadline, reply destination, tags) steers the request, not the call.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../util/canonical-json.js';

/** The call of a read, as far as its fingerprint goes. */
export interface ReadCall {
  readonly target: { readonly account: string; readonly region: string };
  readonly call: {
    readonly service: string;
    readonly operation: string;
    readonly input: Readonly<Record<string, unknown>>;
  };
}

/** SHA-256 of the canonical JSON of the target and the call: 64 hex digits. */
export function readFingerprint(read: ReadCall): string {
  const { account, region } = read.target;
  const { service, operation, input } = read.call;
  const canonical = canonicalJson({
    target: { account, region },
    call: { service, operation, input },
  });
  return createHash('sha256').update(canonical).digest('hex');
}
