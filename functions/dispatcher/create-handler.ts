/**
 * The dispatcher Lambda's handler, built from its parts: an SQS batch in, a partial batch
 * response out, with Powertools' structured logs (the Lambda context on every line) and EMF
 * metrics. handler.ts applies it to the Lambda environment; the local stack (local/stack.ts) to
 * its emulators, so the path `cdk deploy` ships is the one the local stack and the tests drive.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { ConstructorOptions as LoggerOptions } from '@aws-lambda-powertools/logger/types';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { MetricsOptions } from '@aws-lambda-powertools/metrics/types';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { METRIC_NAMESPACE } from '../../shared/contract/metrics.js';
import type { Dispatcher } from '../../shared/dispatch/dispatcher.js';
import { fromSqsRecord } from '../../shared/dispatch/sqs-records.js';

/** The dispatcher's Powertools Logger settings: `service` on every line. */
export const LOGGER_OPTIONS: LoggerOptions = { serviceName: 'sluice-dispatcher' };
/** The dispatcher's Powertools Metrics settings: Sluice's namespace, `service` dimension. */
export const METRICS_OPTIONS: MetricsOptions = {
  namespace: METRIC_NAMESPACE,
  serviceName: 'sluice-dispatcher',
};

/** The parts of a dispatcher handler. */
export interface DispatcherHandlerParts {
  /**
   * Processes each batch. Build it with `powertoolsTelemetry(logger, metrics)` of the same
   * logger and metrics, so its counts and log lines go where the handler's do.
   */
  readonly dispatcher: Pick<Dispatcher, 'processBatch'>;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** A message the dispatcher could not hand on: SQS delivers it again after the visibility timeout. */
class RedeliveryRequested extends Error {
  constructor(messageId: string) {
    super(`message ${messageId} left for redelivery`);
    this.name = 'RedeliveryRequested';
  }
}

/**
 * Builds the SQS handler: middy with Powertools' Lambda context for the logger and EMF flushing
 * for the metrics; partial batch responses through Powertools' batch processor.
 *
 * @example
 * const logger = new Logger(LOGGER_OPTIONS);
 * const metrics = new Metrics(METRICS_OPTIONS);
 * const { dispatcher } = createDispatcher(env, { dynamodb, sqs, telemetry: powertoolsTelemetry(logger, metrics) });
 * export const handler = createHandler({ dispatcher, logger, metrics });
 */
export function createHandler({ dispatcher, logger, metrics }: DispatcherHandlerParts) {
  const processor = new BatchProcessor(EventType.SQS);
  const lambdaHandler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // Admission works on the whole batch (one write per bucket group), so the batch is processed
    // first; the record handler then only reports each record's fate to the batch processor.
    const { failedMessageIds } = await dispatcher.processBatch(
      event.Records.map(fromSqsRecord),
      context.awsRequestId,
      // No call starts that could outlive the invocation (it is re-queued instead).
      { remainingMs: context.getRemainingTimeInMillis() },
    );
    const failed = new Set(failedMessageIds);
    const recordHandler = async (record: SQSRecord) => {
      if (failed.has(record.messageId)) throw new RedeliveryRequested(record.messageId);
    };
    return processPartialResponse(event, recordHandler, processor, {
      context,
      throwOnFullBatchFailure: false,
    });
  };
  return middy(lambdaHandler).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
