/**
 * CloudWatch embedded metric format, checked: the JSON documents Powertools prints (to stdout on
 * Lambda, to the log file locally) that carry metrics, with their directives validated against
 * the format's rules (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
 */
import { expect } from 'vitest';

/** One EMF document and the names of the metrics it carries. */
export interface EmfDocument {
  readonly doc: Readonly<Record<string, unknown>>;
  readonly names: readonly string[];
}

interface MetricDirective {
  readonly Namespace: unknown;
  readonly Dimensions: readonly (readonly unknown[])[];
  readonly Metrics: readonly { readonly Name: unknown; readonly Unit?: unknown }[];
}

/** The JSON documents in printed text, one per line (other lines are skipped). */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * The EMF documents among `documents`, each checked: a numeric timestamp; directives in
 * `namespace`; every dimension a string member of the document; every metric a number in it.
 */
export function emfDocuments(
  documents: readonly Record<string, unknown>[],
  namespace: string,
): EmfDocument[] {
  return documents
    .filter((doc) => '_aws' in doc)
    .map((doc) => {
      const aws = doc._aws as { Timestamp: unknown; CloudWatchMetrics: MetricDirective[] };
      expect(aws.Timestamp).toEqual(expect.any(Number));
      expect(aws.CloudWatchMetrics.length).toBeGreaterThan(0);
      const names: string[] = [];
      for (const directive of aws.CloudWatchMetrics) {
        expect(directive.Namespace).toBe(namespace);
        for (const set of directive.Dimensions)
          for (const name of set) expect(doc[String(name)]).toEqual(expect.any(String));
        for (const metric of directive.Metrics) {
          expect(metric.Name).toEqual(expect.any(String));
          expect(doc[String(metric.Name)]).toEqual(expect.any(Number));
          names.push(String(metric.Name));
        }
      }
      return { doc, names };
    });
}
