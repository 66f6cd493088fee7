/**
 * A client outside Sluice spending the same provider budget — the console, Terraform, another
 * controller — as the shared-account scenario needs: it calls the simulator directly with the
 * AWS SDK's standard retries, at a steady rate, until stopped. Its ClientTokens start with
 * `outside-`, so the provider's executions tell its calls from Sluice's.
 */
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { accountCredentials } from './emulators/credentials.js';
import type { OutsideClient } from './scenarios.js';

/** A running outside client: `stop()` ends it and says what it did. */
/** What an outside client did: its calls, and how many failed after the SDK's retries. */
export interface OutsideCalls {
  readonly calls: number;
  readonly failed: number;
}

export interface RunningOutsideClient {
  stop(): Promise<OutsideCalls>;
}

/** Starts the outside client of a scenario against `endpoint`, for `account` and `region`. */
export function startOutsideClient(
  spec: OutsideClient,
  endpoint: string,
  account: string,
  region: string,
): RunningOutsideClient {
  const ec2 = new EC2Client({
    region,
    endpoint,
    credentials: accountCredentials(account),
    retryMode: 'standard',
    maxAttempts: 3,
  });
  const startMs = Date.now();
  let calls = 0;
  let failed = 0;
  let running = true;
  const inFlight = new Set<Promise<void>>();
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const dueMs = startMs + spec.fromMs + (n * 1_000) / spec.perSecond;
      if (dueMs > startMs + spec.untilMs) break;
      const wait = dueMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!running) break;
      calls++;
      const call = ec2
        .send(
          new RunInstancesCommand({
            ImageId: 'ami-12345678',
            MinCount: 1,
            MaxCount: 1,
            ClientToken: `outside-${startMs}-${n}`,
          }),
        )
        .then(
          () => undefined,
          () => {
            failed++;
          },
        );
      inFlight.add(call);
      void call.finally(() => inFlight.delete(call));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all(inFlight);
      ec2.destroy();
      return { calls, failed };
    },
  };
}
