/**
 * The request queues' URLs by priority, as the dispatcher, the producer client and the CLI read
 * them: `SLUICE_QUEUE_URLS`, a JSON object `{"high":…,"normal":…,"low":…}` in which `normal` is
 * required and a priority without its own queue uses `normal`'s. One reader for all three.
 */
import { PRIORITIES, type Priority } from '../contract/request.js';
import { parseJsonObject } from './json-variable.js';

/** Name of the environment variable holding the request queue URLs (JSON by priority). */
export const QUEUE_URLS_VARIABLE = 'SLUICE_QUEUE_URLS';

/** Request queue URL per priority; a priority without its own queue uses `normal`'s. */
export type QueueUrls = { readonly normal: string } & Partial<Readonly<Record<Priority, string>>>;

/** What the JSON held: the URLs, or every problem found (each naming `source`). */
export type QueueUrlsReading =
  | { readonly ok: true; readonly queueUrls: QueueUrls }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Reads a `SLUICE_QUEUE_URLS` value; `source` names it in problems. */
export function parseQueueUrls(json: string, source = QUEUE_URLS_VARIABLE): QueueUrlsReading {
  const reading = parseJsonObject(json, source, 'a JSON object of queue URLs by priority');
  if (!reading.ok) return reading;
  const parsed = reading.value;
  const problems: string[] = [];
  const urls: Partial<Record<Priority, string>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(PRIORITIES as readonly string[]).includes(key)) {
      problems.push(`${source} has "${key}", not a priority (${PRIORITIES.join(', ')})`);
    } else if (typeof value !== 'string' || value === '') {
      problems.push(`${source}.${key} must be a queue URL string`);
    } else {
      urls[key as Priority] = value;
    }
  }
  const { normal, high, low } = urls;
  if (normal === undefined && parsed.normal === undefined)
    problems.push(`${source} must name a "normal" queue URL`);
  if (problems.length > 0 || normal === undefined) return { ok: false, problems };
  return {
    ok: true,
    queueUrls: {
      normal,
      ...(high === undefined ? {} : { high }),
      ...(low === undefined ? {} : { low }),
    },
  };
}

/** Every priority's queue: the ones given, `normal`'s for the rest. */
export function queueUrlPerPriority(urls: QueueUrls): Readonly<Record<Priority, string>> {
  return Object.freeze({
    high: urls.high || urls.normal,
    normal: urls.normal,
    low: urls.low || urls.normal,
  });
}
