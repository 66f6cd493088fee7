/** The dispatcher's {@link Telemetry} on Powertools: EMF metrics and structured JSON logs. */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_UNITS } from '../contract/metrics.js';
import type { Telemetry } from './dispatcher.js';

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
