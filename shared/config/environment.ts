/**
 * The dispatcher's environment, parsed once into a frozen object. Nothing else reads
 * `process.env`. The CDK construct and the local runtime set exactly these variables.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Priority } from '../contract/request.js';
import {
  type DeploymentConfig,
  DeploymentConfigError,
  parseDeploymentConfig,
} from './deployment.js';
import { parseQueueUrls, QUEUE_URLS_VARIABLE, queueUrlPerPriority } from './queue-urls.js';

/** Names of the environment variables the dispatcher reads. */
export const ENV = {
  /** Buckets table name. */
  bucketsTable: 'SLUICE_BUCKETS_TABLE',
  /** Requests table name. */
  requestsTable: 'SLUICE_REQUESTS_TABLE',
  /** JSON object of request queue URLs by priority: `{"high":…,"normal":…,"low":…}`; `normal` required. */
  queueUrls: QUEUE_URLS_VARIABLE,
  /** Queue URL of admitted calls waiting for their slot (only the dispatcher sends to it). */
  scheduledQueueUrl: 'SLUICE_SCHEDULED_QUEUE_URL',
  /** Dead-letter queue URL: poison messages and exhausted requests go there, with the reason. */
  dlqUrl: 'SLUICE_DLQ_URL',
  /** S3 bucket of outputs too large for a result record (the result points to them). */
  outputsBucket: 'SLUICE_OUTPUTS_BUCKET',
  /** The deployment configuration as inline JSON … */
  config: 'SLUICE_CONFIG',
  /** … or as a JSON file (relative paths from LAMBDA_TASK_ROOT, else the working directory). */
  configFile: 'SLUICE_CONFIG_FILE',
} as const;

/** Everything the dispatcher needs to know about where it runs. */
export interface DispatcherEnvironment {
  readonly bucketsTableName: string;
  readonly requestsTableName: string;
  /** Queue per priority; priorities without their own queue use `normal`'s. */
  readonly queueUrls: Readonly<Record<Priority, string>>;
  /** Admitted calls waiting for their slot. */
  readonly scheduledQueueUrl: string;
  readonly dlqUrl: string;
  /** Where outputs too large for a result go. */
  readonly outputsBucketName: string;
  readonly deployment: DeploymentConfig;
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

  let queueUrls: Readonly<Record<Priority, string>> = { high: '', normal: '', low: '' };
  const rawQueues = required(ENV.queueUrls);
  if (rawQueues !== '') {
    const reading = parseQueueUrls(rawQueues, ENV.queueUrls);
    if (reading.ok) queueUrls = queueUrlPerPriority(reading.queueUrls);
    else problems.push(...reading.problems);
  }

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
  if (problems.length > 0 || deployment === undefined) throw new EnvironmentError(problems);
  return Object.freeze({
    bucketsTableName,
    requestsTableName,
    queueUrls,
    scheduledQueueUrl,
    dlqUrl,
    outputsBucketName,
    deployment,
  });
}

function resolveConfigPath(file: string, env: NodeJS.ProcessEnv): string {
  if (isAbsolute(file)) return file;
  return join(env.LAMBDA_TASK_ROOT ?? process.cwd(), file);
}
