/**
 * The dispatcher Lambda: {@link createHandler} applied to the function's environment and the AWS
 * SDK's clients, built once per container in the init phase (a missing variable fails there,
 * naming it). Everything else is in create-handler.ts, which the local stack and tests drive.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { withTimeouts } from '../../shared/aws/client-timeouts.js';
import { loadDispatcherEnvironment } from '../../shared/config/environment.js';
import { createDispatcher } from '../../shared/dispatch/create-dispatcher.js';
import { powertoolsTelemetry } from '../../shared/dispatch/telemetry.js';
import { createHandler, LOGGER_OPTIONS, METRICS_OPTIONS } from './create-handler.js';

const logger = new Logger(LOGGER_OPTIONS);
const metrics = new Metrics(METRICS_OPTIONS);
const { dispatcher } = createDispatcher(loadDispatcherEnvironment(), {
  dynamodb: new DynamoDBClient(withTimeouts('dynamodb')),
  sqs: new SQSClient(withTimeouts('sqs')),
  s3: new S3Client(withTimeouts('s3')),
  telemetry: powertoolsTelemetry(logger, metrics),
});

/** The function's entry point (`index.handler` in the bundle). */
export const handler = createHandler({ dispatcher, logger, metrics });
