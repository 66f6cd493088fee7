/**
 * The dispatcher's environment, parsed once into a frozen object. Nothing else reads
 * `process.env`. The CDK construct and the local runtime set exactly these variables.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import {
  type DeploymentConfig,
  DeploymentConfigError,
  parseDeploymentConfig,
} from './deployment.js';
import {
  PRODUCER_QUEUES_VARIABLE,
  type ProducerQueues,
  parseProducerQueues,
} from './producer-queues.js';

/** Names of the environment variables the dispatcher reads. */
export const ENV = {
  /** Buckets table name. */
  bucketsTable: 'SLUICE_BUCKETS_TABLE',
  /** Requests table name. */
  requestsTable: 'SLUICE_REQUESTS_TABLE',
  /** Reads table name (shared reads: single-flight and cache); reads are not shared without it. */
  readsTable: 'SLUICE_READS_TABLE',
  /**
   * JSON object of request queue names by producer, `{"web":["sluice-web"]}`: a message's
   * producer is the producer of the queue it arrived on.
   */
  producerQueues: PRODUCER_QUEUES_VARIABLE,
  /**
   * Queue URL of the dispatcher's own queue: admitted calls waiting for their slot and every
   * request re-sent to wait (only the dispatcher sends to it).
   */
  scheduledQueueUrl: 'SLUICE_SCHEDULED_QUEUE_URL',
  /** Dead-letter queue URL: poison messages and exhausted requests go there, with the reason. */
  dlqUrl: 'SLUICE_DLQ_URL',
  /** S3 bucket of outputs too large for a result record (the result points to them). */
  outputsBucket: 'SLUICE_OUTPUTS_BUCKET',
  /** The deployment configuration as inline JSON … */
  config: 'SLUICE_CONFIG',
  /** … or as a JSON file (relative paths from LAMBDA_TASK_ROOT, else the working directory). */
  configFile: 'SLUICE_CONFIG_FILE',
  /**
   * Optional: the role in the coordinator's own account that calls to targets without `roleArn`
   * run under, assumed per producer like a member role. Unset: the dispatcher's own credentials.
   */
  ownAccountRoleArn: 'SLUICE_OWN_ACCOUNT_ROLE_ARN',
} as const;

/** Everything the dispatcher needs to know about where it runs. */
export interface DispatcherEnvironment {
  readonly bucketsTableName: string;
  readonly requestsTableName: string;
  /** The reads table; absent: every read makes its own call, and nothing is cached. */
  readonly readsTableName?: string;
  /** Request queue name → its producer. */
  readonly producerQueues: ProducerQueues;
  /** The dispatcher's own queue: reservations and re-sent requests. */
  readonly scheduledQueueUrl: string;
  readonly dlqUrl: string;
  /** Where outputs too large for a result go. */
  readonly outputsBucketName: string;
  readonly deployment: DeploymentConfig;
  /** The own-account role calls to targets without `roleArn` run under, if any. */
  readonly ownAccountRoleArn?: string;
}

/** A variable is missing or malformed; the message names every one. */
export class EnvironmentError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`dispatcher environment: ${problems.join('; ')}`);
    this.name = 'EnvironmentError';
    this.problems = problems;
  }
}

/** Reads and validates the environment; throws an {@link EnvironmentError} listing every problem. */
export function loadDispatcherEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): DispatcherEnvironment {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (value === undefined || value.trim() === '') problems.push(`${name} is required`);
    return value ?? '';
  };
  const bucketsTableName = required(ENV.bucketsTable);
  const requestsTableName = required(ENV.requestsTable);
  const scheduledQueueUrl = required(ENV.scheduledQueueUrl);
  const dlqUrl = required(ENV.dlqUrl);
  const outputsBucketName = required(ENV.outputsBucket);
  const rawQueues = required(ENV.producerQueues);
  const ownAccountRoleArn = env[ENV.ownAccountRoleArn]?.trim() || undefined;

  let deployment: DeploymentConfig | undefined;
  const inline = env[ENV.config];
  const file = env[ENV.configFile];
  if ((inline === undefined || inline === '') === (file === undefined || file === '')) {
    problems.push(`exactly one of ${ENV.config} and ${ENV.configFile} is required`);
  } else {
    try {
      const text = inline ? inline : readFileSync(resolveConfigPath(file as string, env), 'utf8');
      deployment = parseDeploymentConfig(JSON.parse(text));
    } catch (error) {
      const source = inline ? ENV.config : `${ENV.configFile} (${file})`;
      problems.push(
        error instanceof DeploymentConfigError
          ? `${source}: ${error.problems.map((p) => p.message).join('; ')}`
          : `${source}: ${(error as Error).message}`,
      );
    }
  }
  let producerQueues: ProducerQueues = new Map();
  if (rawQueues !== '' && deployment !== undefined) {
    const names = deployment.producers.map((p) => p.name);
    const reading = parseProducerQueues(rawQueues, names, ENV.producerQueues);
    if (reading.ok) producerQueues = reading.producerQueues;
    else problems.push(...reading.problems);
  }
  const readsTableName = env[ENV.readsTable]?.trim() || undefined;
  if (readsTableName === undefined && (deployment?.reads.cache.length ?? 0) > 0) {
    problems.push(`${ENV.readsTable} is required: the configuration caches reads (reads.cache)`);
  }
  if (problems.length > 0 || deployment === undefined) throw new EnvironmentError(problems);
  return Object.freeze({
    bucketsTableName,
    requestsTableName,
    ...(readsTableName === undefined ? {} : { readsTableName }),
    producerQueues,
    scheduledQueueUrl,
    dlqUrl,
    outputsBucketName,
    deployment,
    ...(ownAccountRoleArn === undefined ? {} : { ownAccountRoleArn }),
  });
}

function resolveConfigPath(file: string, env: NodeJS.ProcessEnv): string {
  if (isAbsolute(file)) return file;
  return join(env.LAMBDA_TASK_ROOT ?? process.cwd(), file);
}
