/**
 * Runs a workload through the local stack, as producers would: each request sent at its time
 * with `replyTo` the stack's reply queue, results read from there. Measures what a report and a
 * benchmark need: drain, latencies, each priority level's wait (from sending to the call leaving),
 * provider throttles, the learned rate of each bucket over time, and — when a client outside
 * Sluice shared the budget — how long Sluice took to be back at its configured rate after that
 * client stopped.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Priority, SluiceRequest } from '../shared/contract/request.js';
import type { SluiceResult } from '../shared/contract/result.js';
import { activityKey } from './activity.js';
import {
  duplicatesOf,
  executionsByBucket,
  FinishTally,
  type FlowOutcome,
  howOf,
  liveBuckets,
  type RunOptions,
  type RunOutcome,
  simTotals,
} from './run-outcome.js';
import type { LocalStack } from './stack.js';
import type { Workload } from './workload.js';

/** Settings of {@link runThroughStack} beyond the common ones. */
export interface SluiceRunOptions extends RunOptions {
  /**
   * An outside client shares the provider's buckets until this many ms after the start: count
   * only Sluice's own calls and throttles, and measure how long after it Sluice is back at its
   * configured rate.
   */
  readonly sharedUntilMs?: number;
}

/** Prefix of the ClientTokens Sluice derives from request ids (shared/dispatch/call-runner.ts). */
const SLUICE_TOKEN_PREFIX = 'sluice-';
/** "Back at the configured rate": this share of it over a 5 s window. */
const RECOVERED_SHARE = 0.9;

/** Runs the workload through the local stack (its event source must be started). */
export async function runThroughStack(
  stack: LocalStack,
  workload: Workload,
  options: SluiceRunOptions = {},
): Promise<RunOutcome> {
  const sim = stack.simulator;
  if (sim === undefined) throw new Error('runThroughStack needs the built-in simulator');
  const startMs = Date.now();
  const before = simTotals(sim);
  const throttlesBefore = stack.activity.throttles();
  const ddbBefore = stack.dynamoRequests();
  const ddbKindsBefore = stack.dynamoRequestsByKind();
  const submittedAt = new Map<string, number>();
  const sentAtS = new Map<string, number>();
  const submitted = new Map<string, number>();
  const priorityOf = new Map(workload.requests.map((r) => [r.id, r.priority ?? 'normal']));
  const tally = new FinishTally(startMs, workload.bucketOf);
  const throttleSamples: [number, number][] = [[0, 0]];
  const learnedRates = new Map<string, [number, number][]>();
  const total = workload.requests.length;
  const shared = options.sharedUntilMs !== undefined;
  const throttlesSoFar = () =>
    shared
      ? stack.activity.throttles() - throttlesBefore
      : simTotals(sim).throttled - before.throttled;

  const tick = () => {
    const now = Date.now();
    const atS = (now - startMs) / 1000;
    throttleSamples.push([atS, throttlesSoFar()]);
    for (const b of workload.buckets) {
      const rate = stack.activity.learnedRate(activityKey(b.account, b.region, b.bucket));
      if (rate === undefined) continue;
      const series = learnedRates.get(b.label) ?? [];
      series.push([atS, rate]);
      learnedRates.set(b.label, series);
    }
    options.onTick?.({
      name: 'Sluice',
      elapsedS: atS,
      total,
      finished: tally.finished,
      buckets: liveBuckets(
        workload,
        sim,
        submitted,
        tally.finishedBy,
        now,
        stack.activity,
        tally.sharedBy,
      ),
      waitsMs: tally.waits,
    });
  };
  const timer = setInterval(tick, 500);

  // Results come back on each producer's reply queue: read by a few pollers, as producers would.
  let receiving = true;
  const replyQueues = [...new Set([stack.replyQueueUrl, ...Object.values(stack.replyQueueUrls)])];
  const finishedAtS = new Map<string, number>();
  const pollerQueues = replyQueues.length === 1 ? Array(4).fill(replyQueues[0]) : replyQueues;
  const pollers = pollerQueues.map(async (queueUrl: string) => {
    while (receiving) {
      const out = await stack.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) continue;
      const now = Date.now();
      for (const m of messages) {
        const result = JSON.parse(m.Body ?? '{}') as SluiceResult;
        const at = result.id === undefined ? undefined : submittedAt.get(result.id);
        if (result.id === undefined || at === undefined) continue;
        submittedAt.delete(result.id); // a second reply for the same id is not counted twice
        const finishedAt = result.timings?.finishedAt ?? now;
        const ok = result.status === 'succeeded';
        tally.record(result.id, ok, finishedAt, finishedAt - at, howOf(result));
        options.onFinish?.({ id: result.id, ok, result });
        if (result.status === 'succeeded')
          finishedAtS.set(result.id, (finishedAt - startMs) / 1000);
        const startedAt = result.timings?.startedAt;
        if (startedAt !== undefined) {
          tally.recordWait(priorityOf.get(result.id) ?? 'normal', startedAt - at);
        }
      }
      await stack.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle ?? '',
          })),
        }),
      );
    }
  });

  // Each request at its time; those sent together go in slices, so the live view shows the
  // queues filling up.
  for (const [atMs, batch] of bySendTime(workload)) {
    const wait = startMs + atMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (const [producer, requests] of byProducer(workload, batch)) await send(producer, requests);
  }

  async function send(producer: string | undefined, requests: readonly SluiceRequest[]) {
    const client = producer === undefined ? stack.client : stack.clients[producer];
    const replyTo = producer === undefined ? stack.replyQueueUrl : stack.replyQueueUrls[producer];
    if (client === undefined || replyTo === undefined)
      throw new Error(`the local stack has no producer ${producer}`);
    const withReply = requests.map((r) => ({ ...r, replyTo }));
    for (let i = 0; i < withReply.length; i += 200) {
      const slice = withReply.slice(i, i + 200);
      const now = Date.now();
      for (const r of slice) {
        submittedAt.set(r.id, now);
        sentAtS.set(r.id, (now - startMs) / 1000);
      }
      const out = await client.submitBatch(slice);
      for (const f of out.failed) {
        submittedAt.delete(f.id ?? '');
        tally.recordUnsent(Date.now());
      }
      for (const s of out.sent) {
        const label = workload.bucketOf.get(s.id) ?? '';
        submitted.set(label, (submitted.get(label) ?? 0) + 1);
      }
    }
  }

  const deadline = startMs + (options.timeoutMs ?? 300_000);
  while (tally.finished < total && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  receiving = false;
  clearInterval(timer);
  tick();
  await Promise.all(pollers);

  const figures = tally.figures();
  const after = simTotals(sim);
  const executions = executionsByBucket(sim, startMs, shared ? SLUICE_TOKEN_PREFIX : undefined);
  return {
    name: 'Sluice',
    total,
    ...figures,
    failed: total - figures.completed,
    providerThrottles: throttlesSoFar(),
    duplicates: duplicatesOf(sim),
    idealSeconds: workload.idealSeconds,
    configuredIdealSeconds: workload.configuredIdealSeconds,
    executions,
    admissions: new Map(
      workload.buckets.map((b) => [
        b.label,
        stack.activity
          .slots(activityKey(b.account, b.region, b.bucket))
          .map((ms) => (ms - startMs) / 1000),
      ]),
    ),
    waitsMs: new Map(tally.waits) as ReadonlyMap<Priority, readonly number[]>,
    learnedRates,
    throttleSamples,
    dynamoRequests: stack.dynamoRequests() - ddbBefore,
    dynamoRequestsByKind: new Map(
      [...stack.dynamoRequestsByKind()].map(([k, n]) => [k, n - (ddbKindsBefore.get(k) ?? 0)]),
    ),
    providerCalls: after.received - before.received,
    ...tally.shared(),
    ...(options.sharedUntilMs === undefined
      ? {}
      : { recoverySeconds: recoveryAfter(workload, executions, options.sharedUntilMs / 1000) }),
    ...(workload.producerOf.size === 0 ? {} : { flows: flowsOf(workload, sentAtS, finishedAtS) }),
  };
}

/** A batch's requests by the producer that sends them (undefined: the stack's first). */
function byProducer(
  workload: Workload,
  batch: readonly SluiceRequest[],
): Map<string | undefined, SluiceRequest[]> {
  const groups = new Map<string | undefined, SluiceRequest[]>();
  for (const r of batch) {
    const producer = workload.producerOf.get(r.id);
    const list = groups.get(producer) ?? [];
    list.push(r);
    groups.set(producer, list);
  }
  return groups;
}

/** Each named producer's calls: how many, how many succeeded, first sent, last finished. */
function flowsOf(
  workload: Workload,
  sentAtS: ReadonlyMap<string, number>,
  finishedAtS: ReadonlyMap<string, number>,
): Map<string, FlowOutcome> {
  const flows = new Map<string, FlowOutcome>();
  for (const [id, producer] of workload.producerOf) {
    const f = flows.get(producer) ?? {
      count: 0,
      completed: 0,
      firstSentS: Number.POSITIVE_INFINITY,
      lastFinishedS: 0,
    };
    const finished = finishedAtS.get(id);
    flows.set(producer, {
      count: f.count + 1,
      completed: f.completed + (finished === undefined ? 0 : 1),
      firstSentS: Math.min(f.firstSentS, sentAtS.get(id) ?? Number.POSITIVE_INFINITY),
      lastFinishedS: Math.max(f.lastFinishedS, finished ?? 0),
    });
  }
  return flows;
}

/** The requests grouped by when they are sent, earliest first. */
function bySendTime(workload: Workload): [number, SluiceRequest[]][] {
  const groups = new Map<number, SluiceRequest[]>();
  for (const r of workload.requests) {
    const at = workload.sendAtMs.get(r.id) ?? 0;
    const list = groups.get(at) ?? [];
    list.push(r);
    groups.set(at, list);
  }
  return [...groups].sort((a, b) => a[0] - b[0]);
}

/**
 * Seconds from `fromS` until the busiest bucket ran at least {@link RECOVERED_SHARE} of its
 * configured rate over a 5 s window (the end of the run when it never did while calls remained:
 * then the run simply drained).
 */
function recoveryAfter(
  workload: Workload,
  executions: ReadonlyMap<string, readonly number[]>,
  fromS: number,
): number {
  const busiest = [...workload.buckets].sort((a, b) => b.count - a.count)[0];
  if (busiest === undefined) return 0;
  const times = [...(executions.get(busiest.label) ?? [])].sort((a, b) => a - b);
  const needed = RECOVERED_SHARE * busiest.configured.rate * 5;
  for (let i = 0; i < times.length; i++) {
    const t = times[i] as number;
    if (t < fromS) continue;
    let n = 0;
    for (let j = i; j < times.length && (times[j] as number) <= t + 5; j++) n++;
    if (n >= needed) return t - fromS;
  }
  const last = times[times.length - 1] ?? fromS;
  return Math.max(0, last - fromS);
}
