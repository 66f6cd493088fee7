/**
 * The dispatcher's counters and log lines ({@link Telemetry}), and their Powertools form: EMF
 * metrics and structured JSON logs. The dispatcher only sees the interface; the Lambda handler
 * and the local stack pass the Powertools one.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_UNITS } from '../contract/metrics.js';

/** Counters and log lines the dispatcher emits. */
export interface Telemetry {
  count(metric: string, value: number, dimensions: Readonly<Record<string, string>>): void;
  info(message: string, fields: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields: Readonly<Record<string, unknown>>): void;
}

/** Telemetry that records nothing (the default). */
export const SILENT_TELEMETRY: Telemetry = { count: () => {}, info: () => {}, warn: () => {} };

/** Adapts a Powertools Logger and Metrics; each metric carries its own dimensions. */
export function powertoolsTelemetry(logger: Logger, metrics: Metrics): Telemetry {
  return {
    count(metric, value, dimensions) {
      // One EMF document per dimension set, so no metric is published under another's dimensions.
      const single = metrics.singleMetric();
      for (const [name, dimension] of Object.entries(dimensions))
        single.addDimension(name, dimension);
      const unit = (METRIC_UNITS as Record<string, keyof typeof MetricUnit>)[metric] ?? 'Count';
      single.addMetric(metric, MetricUnit[unit], value);
    },
    info: (message, fields) => logger.info(message, { ...fields }),
    warn: (message, fields) => logger.warn(message, { ...fields }),
  };
}
