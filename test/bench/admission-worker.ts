/**
 * One OS process of the admission benchmark: `admitters` concurrent dispatchers, each with its own
 * SDK client, admitting batches of 10 on one bucket until the run ends. Prints one JSON line.
 *
 * Demand: every admitter is offered a batch every `batchEveryMs` (together well above the
 * bucket's rate). A batch is admitted in one call; requests it cannot fit within the horizon come
 * back at the stated `retryAtMs`, as a re-sent SQS message would.
 */
import { BucketStore, type GroupBucket } from '../../shared/admission/bucket-store.js';
import { sleep } from '../../shared/util/sleep.js';
import { dynamoClient } from '../support/engines.js';

export interface WorkerConfig {
  endpoint: string;
  tableName: string;
  bucket: GroupBucket;
  admitters: number;
  startAtMs: number;
  endAtMs: number;
  batchSize: number;
  batchEveryMs: number;
  horizonMs: number;
}

export interface WorkerReport {
  slotsUs: number[];
  requests: number;
  admitted: number;
  latenciesMs: number[];
}

async function runAdmitter(
  config: WorkerConfig,
  index: number,
  report: WorkerReport,
): Promise<void> {
  const client = dynamoClient(config.endpoint);
  // Count DynamoDB requests at the client, whatever the store thinks it sent.
  client.middlewareStack.add(
    (next) => async (args) => {
      report.requests++;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  const store = new BucketStore({
    client,
    tableName: config.tableName,
    horizonMs: config.horizonMs,
  });
  /** Each pending request is the time it becomes visible again. */
  const pending: number[] = [];
  // Stagger the admitters' arrivals over one period so they do not all land on the same ms.
  let nextArrivalMs = config.startAtMs + (config.batchEveryMs * index) / config.admitters;
  await sleep(config.startAtMs - Date.now());
  while (Date.now() < config.endAtMs) {
    const now = Date.now();
    while (nextArrivalMs <= now) {
      for (let i = 0; i < config.batchSize; i++) pending.push(nextArrivalMs);
      nextArrivalMs += config.batchEveryMs;
    }
    pending.sort((a, b) => a - b);
    const visible = pending.filter((at) => at <= now).slice(0, config.batchSize);
    if (visible.length === 0) {
      await sleep(Math.min(nextArrivalMs, pending[0] ?? Number.POSITIVE_INFINITY) - now);
      continue;
    }
    pending.splice(0, visible.length);
    const started = performance.now();
    const outcome = await store.admit(
      [config.bucket],
      visible.map(() => [1]),
    );
    report.latenciesMs.push(performance.now() - started);
    for (const decision of outcome.decisions) {
      if (decision.kind === 'admitted') {
        report.admitted++;
        report.slotsUs.push(decision.slotsUs[0] as number);
      } else if (decision.kind === 'not-yet') {
        pending.push(decision.retryAtMs);
      } else {
        throw new Error(`unexpected never-fits for a cost-1 request: ${JSON.stringify(decision)}`);
      }
    }
  }
  client.destroy();
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
  const report: WorkerReport = { slotsUs: [], requests: 0, admitted: 0, latenciesMs: [] };
  await Promise.all(
    Array.from({ length: config.admitters }, (_, i) => runAdmitter(config, i, report)),
  );
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

await main();
