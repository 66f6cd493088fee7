/**
 * Runs inside the worker thread started by ./emulators-thread.ts: starts dynalite and fauxqs,
 * reports their endpoints, and stops them when told to.
 */
import { parentPort } from 'node:worker_threads';
import { startDynalite } from './dynalite.js';
import { startSqs } from './sqs.js';

const port = parentPort;
if (port === null) throw new Error('emulators-worker runs only as a worker thread');

const [dynamo, sqs] = await Promise.all([startDynalite(), startSqs()]);
port.on('message', async (message: unknown) => {
  if (message !== 'stop') return;
  await Promise.all([dynamo.stop(), sqs.stop()]);
  port.postMessage({ stopped: true });
  port.close();
});
port.postMessage({ dynamoEndpoint: dynamo.endpoint, sqsEndpoint: sqs.endpoint });
