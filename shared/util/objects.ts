/**
 * What kind of object a value is, asked in one place: parsed JSON and configuration arrive as
 * `unknown`, and each module used to carry its own copy of these checks.
 */

/** True for a non-null object that is not an array (parsed JSON objects, config records). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * True for the objects JSON can carry: `{}` literals and `JSON.parse` output, not Dates, Maps or
 * class instances (which `JSON.stringify` would change on the way to the queue).
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
