/**
 * The fingerprint of a request's call: what makes a re-send of an `id` the same request (a
 * duplicate, answered from the record) or another one (a conflict, never run), and what makes two
 * reads the same read, which may share one provider call (shared/reads/). SHA-256 of the
 * canonical JSON (shared/util/canonical-json.ts) of the target and the call: object keys sorted
 * at every level, so two producers' serializers that order keys differently still agree;
 * `priority`, `deadline`, `maxAttempts`, `replyTo` and `tags` steer the request, not the call, and
 * are left out, and so is the producer.
 */
import { createHash } from 'node:crypto';
import type { SluiceRequest } from '../contract/request.js';
import { canonicalJson } from '../util/canonical-json.js';

/** The call's fingerprint: 64 hex digits. */
export function callFingerprint(request: Pick<SluiceRequest, 'target' | 'call'>): string {
  const canonical = canonicalJson({ target: request.target, call: request.call });
  return createHash('sha256').update(canonical).digest('hex');
}
