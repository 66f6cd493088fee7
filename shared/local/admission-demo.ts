/**
 * `npm start` (until the local stack lands): a storm of EC2 and Service Quotas calls from two
 * accounts in two regions, admitted by four concurrent dispatchers against the DynamoDB token
 * buckets on an embedded dynalite. Shows each bucket's admitted rate against its limit live,
 * then a summary. The calls themselves are not run here: this shows admission and scheduling.
 *
 * Options: --seconds 60 (upper bound) --dispatchers 4 --horizon-ms 10000
 */
import { parseArgs } from 'node:util';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BucketStore } from '../admission/bucket-store.js';
import { US_PER_MS } from '../admission/gcra.js';
import { groupByBuckets } from '../admission/groups.js';
import { type CallSpec, drawsFor } from '../limits/index.js';
import type { BucketDraw } from '../limits/types.js';
import { BUCKETS_TABLE, bucketKey, createTableInput } from '../storage/tables.js';
import { startDynalite } from './dynalite.js';
import { windowStats } from './window-stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    dispatchers: { type: 'string', default: '4' },
    'horizon-ms': { type: 'string', default: '10000' },
  },
});
const maxSeconds = Number(values.seconds);
const dispatcherCount = Number(values.dispatchers);
const horizonMs = Number(values['horizon-ms']);

interface PendingCall {
  readonly label: string;
  readonly draws: readonly BucketDraw[];
  visibleAtMs: number;
}

interface BucketView {
  readonly label: string;
  readonly rate: number;
  readonly burst: number;
  readonly slotsMs: number[];
}

const accounts = ['111111111111', '222222222222'];
const regions = ['us-east-1', 'eu-west-1'];
/** Per account and region: how many of each call the storm sends at once. */
const storm: readonly { count: number; call: (i: number) => CallSpec }[] = [
  {
    count: 40,
    call: (i) => ({
      service: 'ec2',
      operation: 'RunInstances',
      input: { MinCount: 1, MaxCount: 1 + (i % 3) },
    }),
  },
  {
    count: 300,
    call: () => ({
      service: 'ec2',
      operation: 'DescribeInstances',
      input: { Filters: [{ Name: 'tag:team', Values: ['a'] }] },
    }),
  },
  {
    count: 120,
    call: () => ({
      service: 'service-quotas',
      operation: 'ListServiceQuotas',
      input: { ServiceCode: 'ec2' },
    }),
  },
];

const emulator = await startDynalite();
const client = () =>
  new DynamoDBClient({
    endpoint: emulator.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
const tableName = 'sluice-demo-buckets';
await client().send(new CreateTableCommand(createTableInput(BUCKETS_TABLE, tableName)));

const pending: PendingCall[] = [];
const buckets = new Map<string, BucketView>();
const startMs = Date.now();
for (const account of accounts) {
  for (const region of regions) {
    for (const { count, call } of storm) {
      for (let i = 0; i < count; i++) {
        const spec = call(i);
        const draws = drawsFor({ account, region }, spec);
        pending.push({ label: spec.operation, draws, visibleAtMs: startMs });
        for (const draw of draws) {
          const key = bucketKey(draw.ref);
          if (!buckets.has(key)) {
            const label = `${account} ${region} ${draw.ref.service}:${draw.ref.bucket}`;
            buckets.set(key, {
              label,
              rate: draw.limit.rate,
              burst: draw.limit.burst,
              slotsMs: [],
            });
          }
        }
      }
    }
  }
}
const total = pending.length;
let admitted = 0;
let requests = 0;
let lastSlotMs = startMs;

async function dispatcher(): Promise<void> {
  const store = new BucketStore({ client: client(), tableName, horizonMs });
  while (admitted < total && Date.now() - startMs < maxSeconds * 1_000) {
    const now = Date.now();
    const batch: PendingCall[] = [];
    for (let i = 0; i < pending.length && batch.length < 10; ) {
      const call = pending[i] as PendingCall;
      if (call.visibleAtMs <= now) {
        batch.push(call);
        pending.splice(i, 1);
      } else i++;
    }
    if (batch.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    for (const group of groupByBuckets(batch.map((c) => c.draws))) {
      const outcome = await store.admit(group.buckets, group.costs);
      requests += outcome.requests.writes + outcome.requests.reads;
      outcome.decisions.forEach((decision, i) => {
        const call = batch[group.members[i] as number] as PendingCall;
        if (decision.kind === 'admitted') {
          admitted++;
          lastSlotMs = Math.max(lastSlotMs, decision.runAtMs);
          // One entry per token, so resource buckets (one token per instance) count right.
          group.buckets.forEach((b, j) => {
            const slotMs = Math.ceil((decision.slotsUs[j] as number) / US_PER_MS);
            const tokens = (group.costs[i] as number[])[j] as number;
            for (let t = 0; t < tokens; t++) buckets.get(bucketKey(b.ref))?.slotsMs.push(slotMs);
          });
        } else if (decision.kind === 'not-yet') {
          call.visibleAtMs = decision.retryAtMs;
          pending.push(call);
        }
      });
    }
  }
}

function report(final: boolean): void {
  const now = Date.now();
  const lines = [...buckets.values()]
    .filter((b) => !b.label.endsWith(':resource'))
    .sort((a, b) => a.label.localeCompare(b.label))
    .map((b) => {
      const lastSecond = b.slotsMs.filter((s) => s > now - 1_000 && s <= now).length;
      const due = b.slotsMs.filter((s) => s <= now).length;
      return `  ${b.label.padEnd(48)} ran ${String(due).padStart(4)}  last 1 s ${String(lastSecond).padStart(3)} (limit ${b.rate}/s, burst ${b.burst})`;
    });
  const elapsed = ((now - startMs) / 1_000).toFixed(1);
  console.log(
    `${final ? 'Final' : 'Progress'} at ${elapsed} s: ${admitted}/${total} calls admitted, ${pending.length} waiting`,
  );
  if (final || process.stdout.isTTY) console.log(lines.join('\n'));
}

const ticker = setInterval(() => report(false), 2_000);
await Promise.all(Array.from({ length: dispatcherCount }, () => dispatcher()));
clearInterval(ticker);
// Let the reserved slots come due, so the report shows what ran when.
const wait = lastSlotMs - Date.now();
if (wait > 0) {
  console.log(`All admitted; the last reserved slot is ${(wait / 1_000).toFixed(1)} s away.`);
  await new Promise((resolve) => setTimeout(resolve, wait));
}
report(true);

console.log('\nPer bucket: the most tokens admitted in any 1 s window never exceeds burst + rate.');
for (const b of [...buckets.values()].sort((x, y) => x.label.localeCompare(y.label))) {
  const sorted = [...b.slotsMs].sort((x, y) => x - y);
  const { max } = windowStats(sorted, 1_000);
  const spanS = sorted.length ? ((sorted.at(-1) as number) - (sorted[0] as number)) / 1_000 : 0;
  console.log(
    `  ${b.label.padEnd(48)} ${String(sorted.length).padStart(4)} admitted over ${spanS.toFixed(1).padStart(5)} s, max in 1 s ${String(max).padStart(3)} ≤ ${b.burst + b.rate}`,
  );
}
console.log(
  `\nDynamoDB requests per admitted call: ${(requests / Math.max(1, admitted)).toFixed(3)} (${requests} for ${admitted})`,
);
await emulator.stop();
