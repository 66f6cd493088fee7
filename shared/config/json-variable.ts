/**
 * Reading a setting that holds a JSON object (`SLUICE_QUEUE_URLS`, `SLUICE_PRODUCER_QUEUES`): one
 * reader, so every such variable reports "not JSON" and "not an object" the same way.
 */
import { isRecord } from '../util/objects.js';

/** The object a variable held, or the one problem that it is not JSON or not an object. */
export type JsonObjectReading =
  | { readonly ok: true; readonly value: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Parses `json`; `source` names the variable and `what` the object it must be, in problems. */
export function parseJsonObject(json: string, source: string, what: string): JsonObjectReading {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    return { ok: false, problems: [`${source} is not JSON: ${(error as Error).message}`] };
  }
  if (!isRecord(parsed)) return { ok: false, problems: [`${source} must be ${what}`] };
  return { ok: true, value: parsed };
}
