/**
 * The dispatcher Lambda: SQS event source with partial batch responses. Thin: configuration,
 * clients and the dispatcher are built once per container; each batch goes to shared/dispatch.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { loadDispatcherEnvironment } from '../../shared/config/environment.js';
import { METRIC_NAMESPACE } from '../../shared/contract/metrics.js';
import { createDispatcher } from '../../shared/dispatch/create-dispatcher.js';
import { fromSqsRecord } from '../../shared/dispatch/sqs-records.js';
import { powertoolsTelemetry } from '../../shared/dispatch/telemetry.js';

const logger = new Logger({ serviceName: 'sluice-dispatcher' });
const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: 'sluice-dispatcher' });
const { dispatcher } = createDispatcher(loadDispatcherEnvironment(), {
  dynamodb: new DynamoDBClient({}),
  sqs: new SQSClient({}),
  telemetry: powertoolsTelemetry(logger, metrics),
});
const processor = new BatchProcessor(EventType.SQS);

/** A message the dispatcher could not hand on: SQS delivers it again after the visibility timeout. */
class RedeliveryRequested extends Error {
  constructor(messageId: string) {
    super(`message ${messageId} left for redelivery`);
    this.name = 'RedeliveryRequested';
  }
}

const lambdaHandler = async (event: SQSEvent, context: Context) => {
  // Admission works on the whole batch (one write per bucket group), so the batch is processed
  // first; the record handler then only reports each record's fate to the batch processor.
  const { failedMessageIds } = await dispatcher.processBatch(
    event.Records.map(fromSqsRecord),
    context.awsRequestId,
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

export const handler = middy(lambdaHandler)
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
