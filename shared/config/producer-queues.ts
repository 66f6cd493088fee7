/**
 * Which request queue belongs to which producer: the dispatcher's only source of a producer's
 * identity (DESIGN.md, "Producers and trust"). IAM lets each producer send to its own queues
 * only, so the queue a message arrived on (the SQS event's `eventSourceARN`) names its producer;
 * nothing in the message can. `SLUICE_PRODUCER_QUEUES` holds a JSON object of queue names by
 * producer, `{"web":["sluice-web"],"batch":["sluice-batch"]}`, read once here.
 */
import { parseJsonObject } from './json-variable.js';

/** Name of the environment variable holding the request queues' names by producer (JSON). */
export const PRODUCER_QUEUES_VARIABLE = 'SLUICE_PRODUCER_QUEUES';

/** Queue name → producer. */
export type ProducerQueues = ReadonlyMap<string, string>;

/** What the JSON held: the queues, or every problem found (each naming `source`). */
export type ProducerQueuesReading =
  | { readonly ok: true; readonly producerQueues: ProducerQueues }
  | { readonly ok: false; readonly problems: readonly string[] };

/**
 * Reads a `SLUICE_PRODUCER_QUEUES` value; every producer named must be one of `producers`, and a
 * queue may belong to one producer only. `source` names the value in problems.
 */
export function parseProducerQueues(
  json: string,
  producers: readonly string[],
  source = PRODUCER_QUEUES_VARIABLE,
): ProducerQueuesReading {
  const reading = parseJsonObject(json, source, 'a JSON object of queue names by producer');
  if (!reading.ok) return reading;
  const problems: string[] = [];
  const queues = new Map<string, string>();
  for (const [producer, names] of Object.entries(reading.value)) {
    if (!producers.includes(producer)) {
      problems.push(`${source} names ${producer}, not a producer of the deployment`);
    }
    if (!Array.isArray(names) || names.some((name) => typeof name !== 'string' || name === '')) {
      problems.push(`${source}.${producer} must be an array of queue names`);
      continue;
    }
    for (const name of names as string[]) {
      const owner = queues.get(name);
      if (owner !== undefined && owner !== producer) {
        problems.push(`${source}: queue ${name} belongs to both ${owner} and ${producer}`);
      }
      queues.set(name, producer);
    }
  }
  if (queues.size === 0 && problems.length === 0) problems.push(`${source} names no queue`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, producerQueues: queues };
}

/** The variable's value for these queues: the form {@link parseProducerQueues} reads. */
export function formatProducerQueues(queues: ProducerQueues): string {
  const byProducer: Record<string, string[]> = {};
  for (const [name, producer] of queues) {
    byProducer[producer] = [...(byProducer[producer] ?? []), name];
  }
  return JSON.stringify(byProducer);
}
