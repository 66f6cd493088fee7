/**
 * dynalite and fauxqs on a worker thread of their own. On one machine everything shares the
 * CPU; with the emulators in the dispatcher's event loop, their work (about a third of it)
 * makes calls leave late. On a thread of their own they use the second core, as DynamoDB and
 * SQS are elsewhere on AWS.
 */
import { Worker } from 'node:worker_threads';
import type { RunningEmulator } from './dynalite.js';

/** A worker thread running a TypeScript module (through ./ts-worker.mjs). */
export function startTsWorker(module: URL, data: Record<string, unknown> = {}): Worker {
  return new Worker(new URL('./ts-worker.mjs', import.meta.url), {
    workerData: { ...data, module: module.href },
  });
}

/** The emulators, each as a {@link RunningEmulator}; stopping either stops both and the thread. */
export interface EmulatorsThread {
  readonly dynamo: RunningEmulator;
  readonly sqs: RunningEmulator;
}

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Starts the worker and waits for both endpoints (bounded). */
export async function startEmulatorsThread(): Promise<EmulatorsThread> {
  const worker = startTsWorker(new URL('./worker.ts', import.meta.url));
  const endpoints = await new Promise<{ dynamoEndpoint: string; sqsEndpoint: string }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`the emulators did not start within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      worker.once('message', (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      worker.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    },
  );

  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= new Promise<void>((resolve) => {
      // Bounded: a worker that does not answer is terminated.
      const timer = setTimeout(
        () => void worker.terminate().then(() => resolve()),
        STOP_TIMEOUT_MS,
      );
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.postMessage('stop');
    });
    return stopped;
  };
  return {
    dynamo: { endpoint: endpoints.dynamoEndpoint, stop },
    sqs: { endpoint: endpoints.sqsEndpoint, stop },
  };
}
