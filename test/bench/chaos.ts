/**
 * `npm run bench:chaos [-- --processes N] [--rate R] [--tags own|shared] [--log-file FILE]`
 *
 * A mixed workload through the local stack while faults are injected, one named phase after the
 * other: dispatcher processes killed with SIGKILL at random points and started again (`kill`),
 * DynamoDB unreachable for 10 s (`dynamodb-outage`), SQS unreachable for 10 s (`sqs-outage`),
 * the provider answering 5xx in bursts (`provider-5xx`) and leaving connections hanging
 * (`provider-hang`). The dispatchers run in processes of their own (local/dispatcher-process.ts)
 * and reach DynamoDB and SQS through proxies that can drop every connection
 * (local/faulty-proxy.ts); the producer, the emulators and the provider simulator stay here.
 *
 * Workload (`--rate` requests/s, default 5): filtered DescribeInstances, RunInstances (one
 * instance, ClientToken derived from the id), CreateTags (not safe to repeat: no token; each
 * tags with its own request id as the value, so the provider can count how often each ran; with
 * `--tags own` (default) each request tags a resource of its own, as a controller tags what it
 * made; with `--tags shared` every request sets the same key of one resource, so a read back
 * cannot tell a call that never ran from one overwritten since), ListServiceQuotas,
 * and unfiltered DescribeInstances over 2,000 instances (an output of ~560 KB: stored in S3).
 *
 * Progress on stderr; the last stdout line is one JSON object: `submitted`, `succeeded`,
 * `failed` by code, `rejected`, `lost` (no result recorded and not in the DLQ with a reason),
 * `executedTwice` (RunInstances by ClientToken, CreateTags by call, as the provider counted them),
 * `outcomeUnknown` (total, how many the provider really ran, by cause and by phase),
 * `recoverySeconds` per fault (until every request submitted before its end was finished),
 * `kills`, `largeOutputs`, `seconds`.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { type DispatcherProcess, startDispatcherProcess } from '../../local/dispatcher-process.js';
import { accountCredentials } from '../../local/emulators/credentials.js';
import { localDynamoClient } from '../../local/emulators/dynalite.js';
import { type FaultyProxy, startFaultyProxy } from '../../local/faulty-proxy.js';
import { tagPairs } from '../../local/simulator/ec2-protocol.js';
import type { SimCall, SimFault } from '../../local/simulator/index.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import { SluiceResultReader } from '../../shared/client/result-reader.js';
import type { SluiceRequest } from '../../shared/contract/request.js';
import type { SluiceResult } from '../../shared/contract/result.js';
import { idempotencyToken } from '../../shared/dispatch/call-runner.js';
import { REQUEST_ATTRIBUTES, requestKey } from '../../shared/storage/tables.js';
import { sleep } from '../../shared/util/sleep.js';
import {
  type CallKind,
  type Execution,
  type FaultWindow,
  type Submitted,
  tally,
} from './chaos/tally.js';

const { values } = parseArgs({
  options: {
    processes: { type: 'string', default: '3' },
    rate: { type: 'string', default: '5' },
    tags: { type: 'string', default: 'own' },
    'log-file': { type: 'string' },
  },
});
const PROCESSES = Number(values.processes);
const RATE = Number(values.rate);
if (values.tags !== 'own' && values.tags !== 'shared') {
  throw new Error(`--tags must be own or shared, not ${values.tags}`);
}
const SHARED_TAGS = values.tags === 'shared';
/** Accounts of the small calls, and the account whose DescribeInstances answers 2,000 instances. */
const ACCOUNTS = ['111111111111', '222222222222'];
const LARGE_ACCOUNT = '333333333333';
const LARGE_INSTANCES = 2_000;
/** The deployed shape, shrunk: function timeout = visibility timeout = lease, 20 s; calls 5 s. */
const FUNCTION_TIMEOUT_SECONDS = 20;
const DRAIN_TIMEOUT_MS = 150_000;
const PRODUCER = 'default';

const log = (line: string) => process.stderr.write(`[${elapsed()} s] ${line}\n`);
const startedAt = Date.now();
const elapsed = () => ((Date.now() - startedAt) / 1_000).toFixed(0);

const stack = await startLocalStack({
  accounts: [...ACCOUNTS, LARGE_ACCOUNT],
  config: {
    leaseMs: FUNCTION_TIMEOUT_SECONDS * 1_000,
    callTimeouts: {
      ec2: { requestTimeoutMs: 5_000 },
      'service-quotas': { requestTimeoutMs: 5_000 },
    },
  },
  visibilityTimeoutSeconds: FUNCTION_TIMEOUT_SECONDS,
  simulator: {
    // The large account may launch its 2,000 instances at once (EC2's launch burst is 1,000).
    limits: (key) =>
      key.account === LARGE_ACCOUNT && key.bucket === 'RunInstances:resource'
        ? { rate: 100, burst: LARGE_INSTANCES }
        : undefined,
  },
});
const simulator = stack.simulator;
if (simulator === undefined) throw new Error('the chaos benchmark needs the built-in simulator');
const [dynamoProxy, sqsProxy] = await Promise.all([
  startFaultyProxy(stack.dynamoEndpoint),
  startFaultyProxy(stack.sqsEndpoint),
]);
const requestQueues = [
  ...new Set(Object.values(stack.producerQueueUrls).flatMap((urls) => Object.values(urls))),
];
const pool: DispatcherProcess[] = [];
const startOne = () =>
  startDispatcherProcess({
    variables: stack.dispatcherVariables,
    endpoints: { dynamodb: dynamoProxy.endpoint, sqs: sqsProxy.endpoint, s3: stack.sqsEndpoint },
    targets: { ec2: simulator.endpoint, serviceQuotas: simulator.endpoint },
    queues: Object.fromEntries(
      [...requestQueues, stack.env.scheduledQueueUrl].map((url) => [url, 1]),
    ),
    functionTimeoutSeconds: FUNCTION_TIMEOUT_SECONDS,
    ...(values['log-file'] === undefined ? {} : { logFile: values['log-file'] }),
  }).then((child) => {
    pool.push(child);
    return child;
  });

try {
  await launchLargeAccount();
  await Promise.all(Array.from({ length: PROCESSES }, startOne));
  log(`${PROCESSES} dispatcher processes polling; workload ${RATE} requests/s`);
  const figures = await run(stack, simulator);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} finally {
  await Promise.all(pool.map((child) => child.kill()));
  await Promise.all([dynamoProxy.close(), sqsProxy.close()]);
  await stack.stop();
}

/** The workload, the phases, the drain and the tally. */
async function run(stack: LocalStack, sim: NonNullable<LocalStack['simulator']>) {
  const submitted: Submitted[] = [];
  const watcher = watchResults(stack);
  const producer = submitLoop(stack, submitted);
  const faults: FaultWindow[] = [];
  let kills = 0;
  /** Calls left hanging in the provider-hang phase, by action: before / after the provider ran them. */
  const hung = { before: {} as Record<string, number>, after: {} as Record<string, number> };

  await phase('warmup', 6_000, async () => {});
  faults.push(
    await fault('kill', 20_000, async (until) => {
      while (Date.now() < until) {
        await sleep(1_500 + randomInt(2_500));
        const victim = pool.splice(randomInt(pool.length), 1)[0];
        if (victim === undefined) continue;
        await victim.kill();
        kills++;
        // Started at once, as Lambda starts a new environment; polling after its cold start.
        void startOne();
      }
    }),
  );
  await phase('settle', 4_000, async () => {});
  faults.push(await fault('dynamodb-outage', 10_000, proxyDown(dynamoProxy)));
  await phase('settle', 4_000, async () => {});
  faults.push(await fault('sqs-outage', 10_000, proxyDown(sqsProxy)));
  await phase('settle', 4_000, async () => {});
  faults.push(
    await fault('provider-5xx', 10_000, async (until) => {
      // Bursts: one second of every call failing with 500, then a second of calm.
      while (Date.now() < until) {
        const disarm = sim.inject({ kind: 'error', code: 'InternalError', status: 500 });
        await sleep(1_000);
        disarm();
        await sleep(1_000);
      }
    }),
  );
  await phase('settle', 4_000, async () => {});
  faults.push(
    await fault('provider-hang', 10_000, async (until) => {
      // About 30 % of calls never answered: half before the provider ran them, half after.
      const hangs: SimFault[] = [
        { kind: 'hang', when: hangSome(hung.before) },
        { kind: 'hang', afterExecute: true, when: hangSome(hung.after) },
      ];
      const disarms = hangs.map((h) => sim.inject(h));
      await sleep(until - Date.now());
      for (const disarm of disarms) disarm();
    }),
  );
  producer.stop();
  await producer.done;
  log(`submitted ${submitted.length}; draining`);
  await watcher.until(submitted, DRAIN_TIMEOUT_MS);
  watcher.stop();

  const [results, deadLetters] = await Promise.all([
    readResults(stack, submitted),
    drainDeadLetters(stack),
  ]);
  const figures = tally({
    submitted,
    results,
    seenFinishedMs: watcher.seen,
    deadLetters,
    executions: executionsOf(sim.executions),
    tokens: new Map(
      submitted
        .filter((s) => s.kind === 'run')
        .map((s) => [s.id, idempotencyToken(PRODUCER, s.id)]),
    ),
    faults,
  });
  return {
    ...figures,
    kills,
    hung,
    tags: values.tags,
    seconds: Math.round((Date.now() - startedAt) / 1_000),
  };

  async function phase(name: string, ms: number, act: (until: number) => Promise<void>) {
    const until = Date.now() + ms;
    log(`${name}: ${ms / 1_000} s`);
    await act(until);
    const left = until - Date.now();
    if (left > 0) await sleep(left);
  }
  async function fault(name: string, ms: number, act: (until: number) => Promise<void>) {
    const startMs = Date.now();
    await phase(name, ms, act);
    return { name, startMs, endMs: Date.now() };
  }
}

/** A proxied service unreachable for the phase: every connection reset, then back. */
function proxyDown(proxy: FaultyProxy) {
  return async (until: number) => {
    proxy.set('reset');
    await sleep(until - Date.now());
    proxy.set('pass');
  };
}

/** Submits the workload, `RATE` requests per second, until stopped. */
function submitLoop(stack: LocalStack, submitted: Submitted[]) {
  let stopped = false;
  let n = 0;
  const done = (async () => {
    let owed = 0;
    while (!stopped) {
      owed += RATE / 4;
      const batch: SluiceRequest[] = [];
      for (; owed >= 1; owed--) {
        const kind = pickKind();
        const id = `chaos-${kind}-${n++}`;
        batch.push(requestOf(kind, id));
        submitted.push({ id, kind, atMs: Date.now() });
      }
      if (batch.length > 0) {
        const sent = await stack.client.submitBatch(batch);
        if (sent.failed.length > 0)
          throw new Error(`submit failed: ${JSON.stringify(sent.failed)}`);
      }
      await sleep(250);
    }
  })();
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}

/** A fault condition that picks 15 % of calls and counts them by action in `counts`. */
function hangSome(counts: Record<string, number>): (call: SimCall) => boolean {
  return (call) => {
    const hit = Math.random() < 0.15;
    if (hit) counts[call.action] = (counts[call.action] ?? 0) + 1;
    return hit;
  };
}

/** The mix: reads 30 %, RunInstances 20 %, CreateTags 30 %, quotas 15 %, large outputs 5 %. */
function pickKind(): CallKind {
  const r = randomInt(100);
  if (r < 30) return 'read';
  if (r < 50) return 'run';
  if (r < 80) return 'tags';
  if (r < 95) return 'quotas';
  return 'large';
}

function requestOf(kind: CallKind, id: string): SluiceRequest {
  const account = ACCOUNTS[randomInt(ACCOUNTS.length)] as string;
  const target = { account: kind === 'large' ? LARGE_ACCOUNT : account, region: 'us-east-1' };
  const call = {
    read: {
      service: 'ec2',
      operation: 'DescribeInstances',
      input: { Filters: [{ Name: 'instance-state-name', Values: ['running'] }] },
    },
    run: {
      service: 'ec2',
      operation: 'RunInstances',
      input: { ImageId: 'ami-chaos', MinCount: 1, MaxCount: 1 },
    },
    tags: {
      service: 'ec2',
      operation: 'CreateTags',
      input: {
        Resources: [SHARED_TAGS ? 'i-chaos' : `i-chaos-${id}`],
        Tags: [{ Key: 'chaos', Value: id }],
      },
    },
    quotas: {
      service: 'service-quotas',
      operation: 'ListServiceQuotas',
      input: { ServiceCode: 'ec2' },
    },
    large: { service: 'ec2', operation: 'DescribeInstances', input: {} },
  }[kind];
  return { v: 1, id, target, call };
}

/** The large account's instances, launched directly at the simulator. */
async function launchLargeAccount(): Promise<void> {
  const ec2 = new EC2Client({
    endpoint: stack.simulator?.endpoint as string,
    region: 'us-east-1',
    credentials: accountCredentials(LARGE_ACCOUNT),
  });
  try {
    await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-large',
        MinCount: LARGE_INSTANCES,
        MaxCount: LARGE_INSTANCES,
      }),
    );
  } finally {
    ec2.destroy();
  }
}

/**
 * Scans the requests table every second (directly, not through the proxies) and notes when each
 * request is first seen finished: when a producer polling the table would have its result.
 */
function watchResults(stack: LocalStack) {
  const dynamodb = localDynamoClient(stack.dynamoEndpoint);
  const seen = new Map<string, number>();
  const prefix = requestKey(PRODUCER, '');
  let stopped = false;
  const scan = async () => {
    let start: Record<string, never> | undefined;
    do {
      const out = await dynamodb.send(
        new ScanCommand({
          TableName: stack.env.requestsTableName,
          ConsistentRead: true,
          ProjectionExpression: '#id, #status',
          ExpressionAttributeNames: {
            '#id': REQUEST_ATTRIBUTES.id,
            '#status': REQUEST_ATTRIBUTES.status,
          },
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      const now = Date.now();
      for (const item of out.Items ?? []) {
        const status = item[REQUEST_ATTRIBUTES.status]?.S;
        const key = item[REQUEST_ATTRIBUTES.id]?.S ?? '';
        if (status !== 'waiting' && status !== 'running' && !seen.has(key.slice(prefix.length))) {
          seen.set(key.slice(prefix.length), now);
        }
      }
      start = out.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start !== undefined);
  };
  const loop = (async () => {
    while (!stopped) {
      await scan();
      await sleep(1_000);
    }
  })();
  return {
    seen,
    /** Waits until every submitted request is finished, or the timeout. */
    async until(submitted: readonly Submitted[], timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      let last = -1;
      while (Date.now() < deadline) {
        const open = submitted.filter((s) => !seen.has(s.id)).length;
        if (open === 0) return;
        if (open !== last) log(`${open} requests not finished yet`);
        last = open;
        await sleep(1_000);
      }
    },
    stop() {
      stopped = true;
      void loop.finally(() => dynamodb.destroy());
    },
  };
}

/** Every submitted request's result, read without its output (the pointer is enough). */
async function readResults(
  stack: LocalStack,
  submitted: readonly Submitted[],
): Promise<Map<string, SluiceResult>> {
  const dynamodb = localDynamoClient(stack.dynamoEndpoint);
  const reader = new SluiceResultReader({
    dynamodb,
    requestsTableName: stack.env.requestsTableName,
  });
  const results = new Map<string, SluiceResult>();
  try {
    for (const s of submitted) {
      const status = await reader.getResult(s.id);
      if (status.result !== undefined) results.set(s.id, status.result);
    }
  } finally {
    dynamodb.destroy();
  }
  return results;
}

/** What the dead-letter queue holds: request id → `sluice-reason` (`''` when it has none). */
async function drainDeadLetters(stack: LocalStack): Promise<Map<string, string>> {
  const dead = new Map<string, string>();
  for (;;) {
    const out = await stack.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.env.dlqUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) return dead;
    for (const m of messages) {
      let id = '';
      try {
        id = String((JSON.parse(m.Body ?? '') as { id?: unknown }).id ?? '');
      } catch {
        // A body that is not JSON names no request.
      }
      const reason = m.MessageAttributes?.['sluice-reason']?.StringValue ?? '';
      dead.set(id, reason || dead.get(id) || '');
    }
    await stack.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: stack.env.dlqUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

/** The provider's runs of the non-idempotent calls: RunInstances by token, CreateTags by tag. */
function executionsOf(executions: NonNullable<LocalStack['simulator']>['executions']): Execution[] {
  const out: Execution[] = [];
  for (const e of executions) {
    if (e.action === 'RunInstances' && e.clientToken !== undefined) {
      out.push({ kind: 'run', key: e.clientToken });
    } else if (e.action === 'CreateTags') {
      const tag = tagPairs(e.input.Tag).find(([key]) => key === 'chaos');
      if (tag !== undefined) out.push({ kind: 'tags', key: tag[1] });
    }
  }
  return out;
}
