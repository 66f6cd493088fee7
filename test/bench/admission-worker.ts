/**
 * One OS process of the admission benchmark: `admitters` concurrent dispatchers, each with its own
 * SDK client, on one bucket until the run ends. Prints one JSON line.
 *
 * Demand: every admitter is offered a batch every `batchEveryMs` (together well above the
 * bucket's rate). A batch is admitted in one call; requests it cannot fit within the horizon come
 * back at the stated `retryAtMs`, as a re-sent SQS message would.
 *
 * With `mix`, requests carry a priority level (drawn from `levelWeights`) and a flow (their
 * admitter), so higher levels and fairer flows cut in ahead of the flood; and a call runs only as
 * the dispatcher runs it: a slot admission froze runs at once, any other is a reservation on
 * this process's *scheduled pool* (the scheduled queue), which every admitter's
 * check-in loop reads in batches of up to 10 arriving ≤ 1.5 s early, committing the reservations
 * due within 200 ms together 150 ms before the first (shared/dispatch/check-in.ts). A moved
 * reservation waits again; a lost one is admitted again. The slots reported are those the calls
 * ran at.
 */
import type { AdmissionDecision, CallTag } from '../../shared/admission/admit-group.js';
import { BucketStore, type GroupBucket } from '../../shared/admission/bucket-store.js';
import { FIXED, type TimelinePosition } from '../../shared/admission/timeline.js';
import { sleep } from '../../shared/util/sleep.js';
import { dynamoClient } from '../support/engines.js';

export interface WorkerConfig {
  endpoint: string;
  tableName: string;
  bucket: GroupBucket;
  admitters: number;
  /** This process's number, for flow names. */
  process: number;
  startAtMs: number;
  endAtMs: number;
  batchSize: number;
  batchEveryMs: number;
  horizonMs: number;
  /** Levels, flows and check-ins as the dispatcher runs them; plain admission otherwise. */
  mix: boolean;
  /** With `mix`: the share of requests at each level. */
  levelWeights: Record<string, number>;
}

export interface WorkerReport {
  /** The slot each call ran at (µs). */
  slotsUs: number[];
  /** Its level, in the same order. */
  levels: string[];
  /** From arrival to its slot (ms), in the same order. */
  waitsMs: number[];
  requests: number;
  /** Of which check-ins (commits and their reads). */
  checkInRequests: number;
  /** Admission writes and reads, and the requests they answered "not yet". */
  notYet: number;
  /** Calls that ran (their slot passed their check-in, or they ran at admission). */
  admitted: number;
  /** Reservations the log no longer explained, admitted again. */
  lost: number;
  /** Check-in commits, and the reservations they covered. */
  commits: number;
  committed: number;
  latenciesMs: number[];
}

/** A request waiting for admission: when it is visible, and who it is. */
interface Waiting {
  readonly atMs: number;
  readonly arrivedMs: number;
  readonly tag: CallTag;
}

/** A reservation on the scheduled pool. */
interface Held {
  slotUs: number;
  positions: readonly TimelinePosition[];
  epochs: readonly number[];
  readonly arrivedMs: number;
  readonly tag: CallTag;
}

/** A reservation arrives from the scheduled queue up to this early. */
const ARRIVES_EARLY_MS = 1_500;
/** As shared/dispatch/check-in.ts. */
const COMMIT_LEAD_MS = 150;
const COMMIT_WINDOW_MS = 200;

/** Levels in proportion to their weights, deterministically (no two runs differ by chance). */
function levelPicker(weights: Record<string, number>): () => string {
  const entries = Object.entries(weights);
  const total = entries.reduce((s, [, w]) => s + w, 0);
  const credit = new Map(entries.map(([l]) => [l, 0]));
  return () => {
    for (const [l, w] of entries) credit.set(l, (credit.get(l) ?? 0) + w / total);
    const [level] = [...credit].sort((a, b) => b[1] - a[1])[0] as [string, number];
    credit.set(level, (credit.get(level) ?? 0) - 1);
    return level;
  };
}

function counted(config: WorkerConfig, report: WorkerReport, checkIns = false): BucketStore {
  const client = dynamoClient(config.endpoint);
  // Count DynamoDB requests at the client, whatever the store thinks it sent.
  client.middlewareStack.add(
    (next) => async (args) => {
      report.requests++;
      if (checkIns) report.checkInRequests++;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return new BucketStore({ client, tableName: config.tableName, horizonMs: config.horizonMs });
}

function ran(report: WorkerReport, slotUs: number, tag: CallTag, arrivedMs: number): void {
  report.admitted++;
  report.slotsUs.push(slotUs);
  report.levels.push(tag.level);
  report.waitsMs.push(slotUs / 1_000 - arrivedMs);
}

async function runAdmitter(
  config: WorkerConfig,
  index: number,
  report: WorkerReport,
  pool: Held[],
  pending: Waiting[],
): Promise<void> {
  const store = counted(config, report);
  const flow = `p${config.process}-a${index}`;
  const nextLevel = levelPicker(config.mix ? config.levelWeights : { normal: 1 });
  // Stagger the admitters' arrivals over one period so they do not all land on the same ms.
  let nextArrivalMs = config.startAtMs + (config.batchEveryMs * index) / config.admitters;
  await sleep(config.startAtMs - Date.now());
  while (Date.now() < config.endAtMs) {
    const now = Date.now();
    while (nextArrivalMs <= now) {
      for (let i = 0; i < config.batchSize; i++)
        pending.push({
          atMs: nextArrivalMs,
          arrivedMs: nextArrivalMs,
          tag: { level: nextLevel(), flow },
        });
      nextArrivalMs += config.batchEveryMs;
    }
    pending.sort((a, b) => a.atMs - b.atMs);
    const firstLater = pending.findIndex((w) => w.atMs > now);
    const visible = pending.splice(
      0,
      Math.min(config.batchSize, firstLater < 0 ? pending.length : firstLater),
    );
    if (visible.length === 0) {
      await sleep(Math.min(nextArrivalMs, pending[0]?.atMs ?? Number.POSITIVE_INFINITY) - now);
      continue;
    }
    const started = performance.now();
    const outcome = await store.admit(
      [config.bucket],
      visible.map(() => [1]),
      config.mix ? visible.map((w) => w.tag) : undefined,
    );
    report.latenciesMs.push(performance.now() - started);
    outcome.decisions.forEach((decision: AdmissionDecision, i) => {
      const w = visible[i] as Waiting;
      if (decision.kind === 'admitted') {
        const slotUs = decision.slotsUs[0] as number;
        // As the dispatcher: at once only where admission froze the slot; else check in.
        const fixed = decision.positions.every((p) => p.seq === FIXED);
        if (!config.mix || fixed) ran(report, slotUs, w.tag, w.arrivedMs);
        else
          pool.push({
            slotUs,
            positions: decision.positions,
            epochs: decision.epochs,
            arrivedMs: w.arrivedMs,
            tag: w.tag,
          });
      } else if (decision.kind === 'not-yet') {
        report.notYet++;
        pending.push({ ...w, atMs: decision.retryAtMs });
      } else {
        throw new Error(`unexpected never-fits for a cost-1 request: ${JSON.stringify(decision)}`);
      }
    });
  }
}

/** Takes up to 10 reservations arriving now from the pool (earliest first). */
function receive(pool: Held[], nowMs: number): Held[] {
  pool.sort((a, b) => a.slotUs - b.slotUs);
  let n = 0;
  while (n < pool.length && n < 10 && (pool[n] as Held).slotUs / 1_000 <= nowMs + ARRIVES_EARLY_MS)
    n++;
  return pool.splice(0, n);
}

/** One check-in loop: a dispatcher invocation receiving scheduled messages. */
async function runCheckIns(
  config: WorkerConfig,
  report: WorkerReport,
  pool: Held[],
  pending: Waiting[],
): Promise<void> {
  const store = counted(config, report, true);
  await sleep(config.startAtMs - Date.now());
  while (Date.now() < config.endAtMs) {
    let batch = receive(pool, Date.now());
    if (batch.length === 0) {
      await sleep(50);
      continue;
    }
    while (batch.length > 0 && Date.now() < config.endAtMs) {
      const firstMs = Math.min(...batch.map((h) => h.slotUs)) / 1_000;
      await sleep(firstMs - COMMIT_LEAD_MS - Date.now());
      const group = batch.filter((h) => h.slotUs / 1_000 <= firstMs + COMMIT_WINDOW_MS);
      const { results } = await store.checkIn(
        group.map((h) => ({ buckets: [config.bucket], positions: h.positions, epochs: h.epochs })),
        true,
      );
      report.commits++;
      report.committed += group.length;
      const next: Held[] = batch.filter((h) => !group.includes(h));
      group.forEach((h, i) => {
        const result = results[i];
        if (result === undefined || result.kind === 'lost') {
          report.lost++;
          pending.push({ atMs: Date.now(), arrivedMs: h.arrivedMs, tag: h.tag });
          return;
        }
        h.slotUs = result.positions[0]?.slotUs as number;
        h.positions = result.positions;
        h.epochs = result.epochs;
        if (result.kind === 'unchanged') ran(report, h.slotUs, h.tag, h.arrivedMs);
        else if (h.slotUs / 1_000 > Date.now() + ARRIVES_EARLY_MS) pool.push(h);
        else next.push(h);
      });
      batch = next;
    }
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
  const report: WorkerReport = {
    slotsUs: [],
    levels: [],
    waitsMs: [],
    requests: 0,
    checkInRequests: 0,
    notYet: 0,
    admitted: 0,
    lost: 0,
    commits: 0,
    committed: 0,
    latenciesMs: [],
  };
  const pool: Held[] = [];
  const pending: Waiting[][] = Array.from({ length: config.admitters }, () => []);
  await Promise.all([
    ...pending.map((own, i) => runAdmitter(config, i, report, pool, own)),
    // As many check-in loops as admitters: the scheduled queue's consumers.
    ...(config.mix ? pending.map((own) => runCheckIns(config, report, pool, own)) : []),
  ]);
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

await main();
