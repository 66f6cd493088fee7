/**
 * The child of local/dispatcher-process.ts: one dispatcher process. Reads the deployment's
 * `SLUICE_*` variables (as the function does) and its {@link DispatcherProcessSpec}, builds the
 * dispatcher's clients with the deployed timeouts against the given endpoints, and polls the
 * given queues with the local event source, one execution environment per poller. Tells the
 * parent (IPC) once it polls; stops polling on SIGTERM; exits when the parent goes away.
 */
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { withTimeouts } from '../shared/aws/client-timeouts.js';
import { loadDispatcherEnvironment } from '../shared/config/environment.js';
import { createDispatcher, type DispatcherClients } from '../shared/dispatch/create-dispatcher.js';
import { type DispatcherProcessSpec, SPEC_VARIABLE } from './dispatcher-process.js';
import { accountCredentials } from './emulators/credentials.js';
import { localDynamoClient } from './emulators/dynalite.js';
import { s3Client } from './emulators/s3.js';
import { snsClient } from './emulators/sns.js';
import { sqsClient } from './emulators/sqs.js';
import { LocalEventSource } from './event-source.js';
import { executionEnvironment } from './execution-environment.js';

const spec = JSON.parse(process.env[SPEC_VARIABLE] ?? '') as DispatcherProcessSpec;
const env = loadDispatcherEnvironment(process.env);
const sqs = sqsClient(spec.endpoints.sqs, withTimeouts('sqs'));
const clients: DispatcherClients = {
  dynamodb: localDynamoClient(spec.endpoints.dynamodb, withTimeouts('dynamodb')),
  sqs,
  s3: s3Client(spec.endpoints.s3, withTimeouts('s3')),
  // Access key = account id: the simulator's caller account.
  callCredentialsFor: accountCredentials,
  replyClients: {
    sqs: (region) =>
      sqsClient(spec.endpoints.sqs, {
        ...withTimeouts('sqs'),
        ...(region === undefined ? {} : { region }),
      }),
    sns: (region) => snsClient(spec.endpoints.sqs, region, withTimeouts('sns')),
  },
};
// Stores, runner and reply clients shared by the process's execution environments.
const built = createDispatcher(env, clients);
await built.runner.preload(
  env.deployment.targets.flatMap((target) => target.allow.map((entry) => entry.service)),
);
const shared = {
  ...clients,
  overrides: {
    buckets: built.buckets,
    requests: built.requests,
    ...(built.reads === undefined ? {} : { reads: built.reads }),
    runner: built.runner,
    replies: built.replies,
  },
};
const log =
  spec.logFile === undefined
    ? new Writable({ write: (_chunk, _encoding, done) => done() })
    : createWriteStream(spec.logFile, { flags: 'a' });
const source = new LocalEventSource({
  sqs,
  queueUrls: Object.keys(spec.queues),
  initHandler: () => executionEnvironment(env, shared, log).handler,
  timeoutSeconds: spec.functionTimeoutSeconds,
  maxConcurrency: spec.queues,
  ...(spec.batchSize === undefined ? {} : { batchSize: spec.batchSize }),
});
source.start();
process.send?.({ polling: true });

process.once('SIGTERM', () => {
  void source.stop().then(() => process.exit(0));
});
// The parent went away (it ended, or was killed): nothing will stop this process otherwise.
process.once('disconnect', () => process.exit(0));
