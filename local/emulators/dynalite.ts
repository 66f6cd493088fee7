/**
 * In-process dynalite (DynamoDB emulator on LevelDB, in memory): the embedded DynamoDB of the
 * local runtime (`npm start`), and one of the engines the tests and benchmarks run against.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials.js';
import { listenOnLoopback } from './loopback.js';

export interface RunningEmulator {
  /** http://127.0.0.1:<port> */
  readonly endpoint: string;
  /** Stops the server; idempotent. */
  stop(): Promise<void>;
}

/** Starts dynalite on 127.0.0.1, on a free port; tables are ACTIVE as soon as they are created. */
export async function startDynalite(): Promise<RunningEmulator> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const { endpoint } = await listenOnLoopback(server);

  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Busy keep-alive sockets from SDK clients would otherwise hold close() open.
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

/** A DynamoDB client for a local engine: dummy credentials, us-east-1, no SDK retries. */
export function localDynamoClient(
  endpoint: string,
  overrides: DynamoDBClientConfig = {},
): DynamoDBClient {
  return new DynamoDBClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint,
    maxAttempts: 1,
    ...overrides,
  });
}
