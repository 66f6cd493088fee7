/**
 * Canonical JSON: the one serialization of a value that two parties agree on whatever order
 * their serializers wrote its keys in — object keys sorted at every level, no whitespace. What a
 * fingerprint of a call is computed from, so that `{"a":1,"b":2}` and `{"b":2,"a":1}` are the
 * same call. safe-stable-stringify does the sorting (and never throws on a cycle or a BigInt).
 */
import { stringify } from 'safe-stable-stringify';

/** `value` as canonical JSON: keys sorted at every level; `undefined` for `undefined` alone. */
export function canonicalJson(value: unknown): string {
  return stringify(value) ?? 'null';
}
