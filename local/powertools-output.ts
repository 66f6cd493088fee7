/**
 * Powertools for the local stack, writing where Lambda's log stream would receive it: a file
 * (or any stream), not the terminal the live view draws on.
 *
 * Powertools 2.35 has no option for where its lines go. Logger and Metrics each print through a
 * private `Console` bound to `process.stdout` when they are constructed (on Lambda the runtime
 * sends stdout to the log stream); `POWERTOOLS_DEV` swaps that for the global `console` — still
 * the terminal — and turns metrics off. Metrics' `logger` option only carries its own warnings,
 * never the EMF documents. So the two classes are extended at the points Powertools leaves
 * open: Logger's protected `printLog` (its documented subclassing hook, with `createLogger` for
 * child loggers), and Metrics' public `publishStoredMetrics` and `singleMetric` (the dispatcher's
 * telemetry publishes every count as a single metric). Each writes the same JSON line Powertools
 * would print, one per line, as CloudWatch Logs receives it.
 */
import type { Writable } from 'node:stream';
import { Logger, type LogItem } from '@aws-lambda-powertools/logger';
import type { ConstructorOptions as LoggerOptions } from '@aws-lambda-powertools/logger/types';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricsOptions } from '@aws-lambda-powertools/metrics/types';
import { LOGGER_OPTIONS, METRICS_OPTIONS } from '../functions/dispatcher/create-handler.js';

/** A Logger and Metrics with the dispatcher's settings that write their lines to `out`. */
export function powertoolsWritingTo(out: Writable): { logger: Logger; metrics: Metrics } {
  const logger = loggerWritingTo(out, LOGGER_OPTIONS);
  // Metrics' own warnings ("no application metrics to publish") become log lines in the same file.
  const metrics = metricsWritingTo(out, { ...METRICS_OPTIONS, logger });
  return { logger, metrics };
}

/** A Powertools Logger whose JSON log lines go to `out`. */
export function loggerWritingTo(out: Writable, options: LoggerOptions): Logger {
  // A class per stream, so `out` is there before Logger's constructor prints its first warnings.
  class StreamLogger extends Logger {
    protected override printLog(_logLevel: number, log: LogItem): void {
      log.prepareForPrint();
      out.write(`${JSON.stringify(log.getAttributes(), this.getJsonReplacer())}\n`);
    }

    protected override createLogger(childOptions?: LoggerOptions): Logger {
      return new StreamLogger(childOptions);
    }
  }
  return new StreamLogger(options);
}

/** A Powertools Metrics whose EMF documents, its single metrics' included, go to `out`. */
export function metricsWritingTo(out: Writable, options: MetricsOptions): Metrics {
  class StreamMetrics extends Metrics {
    override publishStoredMetrics(): this {
      // Nothing stored: Powertools' own path (its warning, its clean-up) prints nothing else.
      if (!this.hasStoredMetrics()) return super.publishStoredMetrics();
      try {
        if (!this.isDisabled()) out.write(`${JSON.stringify(this.serializeMetrics())}\n`);
      } finally {
        this.clearMetrics();
        this.clearDimensions();
        this.clearMetadata();
      }
      return this;
    }

    override singleMetric(): Metrics {
      return new StreamMetrics({ ...options, singleMetric: true });
    }
  }
  return new StreamMetrics(options);
}
