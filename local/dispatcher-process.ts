/**
 * A dispatcher in an OS process of its own: the local event source driving the deployed handler
 * module's factory, as on Lambda, but in a process that can be killed (SIGKILL) at any point and
 * started again — a Lambda execution environment that dies mid-batch, then a cold start. The rest
 * of the local stack (emulators, tables, queues, simulator) stays in the calling process; the
 * child reaches it through the endpoints it is given (a proxy in front of one can make it fail:
 * local/faulty-proxy.ts). The chaos benchmark (test/bench/chaos.ts) runs several.
 *
 * The child is local/dispatcher-process-main.ts. It reads the `SLUICE_*` variables the construct
 * sets on the function (the local stack's `dispatcherVariables`) and a {@link DispatcherProcessSpec}
 * in `SLUICE_LOCAL_DISPATCHER`, and says when it is polling.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './emulators/credentials.js';

/** What the child is told, as JSON in {@link SPEC_VARIABLE}. */
export interface DispatcherProcessSpec {
  /** Where the dispatcher's own services are: DynamoDB, SQS (and SNS), S3. */
  readonly endpoints: { readonly dynamodb: string; readonly sqs: string; readonly s3: string };
  /** The queues to poll (URL), each with the batches in flight on it at once. */
  readonly queues: Readonly<Record<string, number>>;
  /** The function timeout each invocation's context reports, seconds. */
  readonly functionTimeoutSeconds: number;
  /** Messages per batch. @default 10 */
  readonly batchSize?: number;
  /** Where Powertools' log lines and EMF documents go (appended). @default nowhere */
  readonly logFile?: string;
}

/** Settings of {@link startDispatcherProcess}. */
export interface DispatcherProcessOptions extends DispatcherProcessSpec {
  /** The `SLUICE_*` variables of the deployment (the local stack's `dispatcherVariables`). */
  readonly variables: Readonly<Record<string, string>>;
  /** Where target calls go: `AWS_ENDPOINT_URL_EC2` and `AWS_ENDPOINT_URL_SERVICE_QUOTAS`. */
  readonly targets: { readonly ec2: string; readonly serviceQuotas: string };
  /** How long the child may take to start polling. @default 60 000 */
  readonly startTimeoutMs?: number;
}

/** How a child process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running dispatcher process. */
export interface DispatcherProcess {
  readonly pid: number;
  /** Resolves when the process has ended, however it ended. */
  readonly exited: Promise<ProcessExit>;
  /** SIGKILL: dies at once, batches in flight and all; resolves when it is gone. */
  kill(): Promise<ProcessExit>;
  /** SIGTERM: stops polling, finishes its batches (bounded), then exits. */
  stop(): Promise<ProcessExit>;
}

/** The variable holding the child's {@link DispatcherProcessSpec}. */
export const SPEC_VARIABLE = 'SLUICE_LOCAL_DISPATCHER';

const MAIN = fileURLToPath(new URL('./dispatcher-process-main.ts', import.meta.url));
/** What the child prints last (stderr), kept for the error when it fails to start. */
const STDERR_TAIL_CHARS = 4_000;

/** Starts a dispatcher process; resolves once it polls. */
export async function startDispatcherProcess(
  options: DispatcherProcessOptions,
): Promise<DispatcherProcess> {
  const { variables, targets, startTimeoutMs = 60_000, ...spec } = options;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      PATH: process.env.PATH,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_EC2: targets.ec2,
      AWS_ENDPOINT_URL_SERVICE_QUOTAS: targets.serviceQuotas,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...variables,
      [SPEC_VARIABLE]: JSON.stringify(spec satisfies DispatcherProcessSpec),
    },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  await waitUntilPolling(child, exited, startTimeoutMs, () => stderr);
  const end = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    pid: child.pid as number,
    exited,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}

/** Resolves when the child says it polls; rejects (and kills it) when it exits or takes too long. */
function waitUntilPolling(
  child: ChildProcess,
  exited: Promise<ProcessExit>,
  timeoutMs: number,
  stderr: () => string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the dispatcher process did not start within ${timeoutMs} ms: ${stderr()}`));
    }, timeoutMs);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`the dispatcher process ended (${signal ?? code}) before polling: ${stderr()}`),
      );
    });
  });
}
