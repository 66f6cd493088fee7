/**
 * `npm run bench:admission`: P concurrent admitters (separate SDK clients, spread over several OS
 * processes) on one bucket, against dynalite and DynamoDB Local, with demand well above the rate.
 * Prints progress, then as its last line one JSON array: one object per engine.
 *
 * Options (all optional): --seconds 20 --rate 50 --burst 25 --admitters 8 --processes 2
 *   --demand 2 (offered load as a multiple of the rate) --horizon-ms 60000
 *   --engines dynalite,dynamodb-local --levels high:0.1,normal:0.3,low:0.6 (or `plain`)
 *
 * By default requests carry priority levels (and each admitter is a flow), so higher levels cut
 * in ahead of reservations already granted, and every reservation checks in before it runs, as
 * the dispatcher does (./admission-worker.ts): the window bound, the utilization and the cost are
 * those of the calls as they ran, check-ins included. `--levels plain` measures admission alone.
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { startDynalite } from '../../local/emulators/dynalite.js';
import { percentile, windowStats } from '../../local/window-stats.js';
import { US_PER_MS, US_PER_S } from '../../shared/admission/gcra.js';
import { BUCKETS_TABLE } from '../../shared/storage/tables.js';
import {
  fetchDynamoDbLocal,
  javaAvailable,
  startDynamoDbLocal,
} from '../support/dynamodb-local.js';
import { createTable, dynamoClient, type EngineName, uniqueTableName } from '../support/engines.js';
import type { WorkerConfig, WorkerReport } from './admission-worker.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '50' },
    burst: { type: 'string', default: '25' },
    admitters: { type: 'string', default: '8' },
    processes: { type: 'string', default: '2' },
    demand: { type: 'string', default: '2' },
    'horizon-ms': { type: 'string', default: '60000' },
    engines: { type: 'string', default: 'dynalite,dynamodb-local' },
    levels: { type: 'string', default: 'high:0.1,normal:0.3,low:0.6' },
  },
});
const mix = values.levels !== 'plain';
const levelWeights: Record<string, number> = mix
  ? Object.fromEntries(
      values.levels.split(',').map((pair) => {
        const [level, weight] = pair.split(':');
        return [level as string, Number(weight)];
      }),
    )
  : { normal: 1 };
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const burst = Number(values.burst);
const admitters = Number(values.admitters);
const processes = Math.max(2, Number(values.processes));
const demand = Number(values.demand);
const horizonMs = Number(values['horizon-ms']);
const batchSize = 10;

async function startEngine(name: EngineName) {
  if (name === 'dynalite') return startDynalite();
  if (!javaAvailable()) throw new Error('DynamoDB Local needs Java (java -version failed)');
  await fetchDynamoDbLocal();
  return startDynamoDbLocal();
}

async function benchEngine(name: EngineName) {
  const engine = await startEngine(name);
  try {
    const tableName = await createTable(
      dynamoClient(engine.endpoint),
      BUCKETS_TABLE,
      uniqueTableName('bench'),
    );
    const startAtMs = Date.now() + 1_500; // time for the workers to boot
    const endAtMs = startAtMs + seconds * 1_000;
    // Offered load: `demand` × rate, in batches of 10, shared by all admitters.
    const batchEveryMs = (batchSize * admitters * 1_000) / (demand * rate);
    const perProcess = Array.from(
      { length: processes },
      (_, p) => Math.floor(admitters / processes) + (p < admitters % processes ? 1 : 0),
    ).filter((n) => n > 0);
    console.error(
      `[${name}] ${admitters} admitters in ${perProcess.length} processes, bucket ${rate}/s burst ${burst}, ` +
        `offered ${demand * rate}/s for ${seconds} s, horizon ${horizonMs} ms`,
    );
    const reports = await Promise.all(
      perProcess.map(async (count, p) => {
        const config: WorkerConfig = {
          process: p,
          mix,
          levelWeights,
          endpoint: engine.endpoint,
          tableName,
          bucket: {
            ref: { account: '123456789012', region: 'us-east-1', service: 'bench', bucket: 'one' },
            limit: { rate, burst },
          },
          admitters: count,
          startAtMs,
          endAtMs,
          batchSize,
          batchEveryMs,
          horizonMs,
        };
        const { stdout } = await run(
          process.execPath,
          ['--import', 'tsx', join(here, 'admission-worker.ts'), JSON.stringify(config)],
          {
            maxBuffer: 64 * 1024 * 1024,
            env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          },
        );
        return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as WorkerReport;
      }),
    );

    const allSlotsUs = reports.flatMap((r) => r.slotsUs);
    const startUs = startAtMs * US_PER_MS;
    const endUs = endAtMs * US_PER_MS;
    // What ran within the measured interval; reservations past its end are not counted.
    const inRun = allSlotsUs.filter((s) => s >= startUs && s <= endUs);
    const requests = reports.reduce((sum, r) => sum + r.requests, 0);
    const admittedAll = reports.reduce((sum, r) => sum + r.admitted, 0);
    const latencies = reports.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
    // Each level's wait, arrival to slot, over the calls that ran within the run.
    const waitsByLevel = new Map<string, number[]>();
    for (const r of reports)
      r.slotsUs.forEach((slot, i) => {
        if (slot < startUs || slot > endUs) return;
        const level = r.levels[i] as string;
        const list = waitsByLevel.get(level) ?? [];
        list.push(r.waitsMs[i] as number);
        waitsByLevel.set(level, list);
      });
    const waits = Object.fromEntries(
      [...waitsByLevel].map(([level, list]) => {
        const sorted = list.sort((a, b) => a - b);
        return [
          level,
          {
            ran: sorted.length,
            p50WaitMs: Math.round(percentile(sorted, 0.5)),
            p99WaitMs: Math.round(percentile(sorted, 0.99)),
          },
        ];
      }),
    );
    const commits = reports.reduce((sum, r) => sum + r.commits, 0);
    const committed = reports.reduce((sum, r) => sum + r.committed, 0);
    const w1 = windowStats(allSlotsUs, 1 * US_PER_S, burst + rate * 1);
    const w10 = windowStats(allSlotsUs, 10 * US_PER_S, burst + rate * 10);
    return {
      engine: name,
      admitted: inRun.length,
      seconds,
      rate,
      burst,
      windowViolations: w1.violations + w10.violations,
      maxIn1s: w1.max,
      maxIn10s: w10.max,
      utilization: round(inRun.length / (burst + rate * seconds), 4),
      requestsPerAdmitted: round(requests / admittedAll, 4),
      ...(mix
        ? {
            levels: waits,
            lostReservations: reports.reduce((sum, r) => sum + r.lost, 0),
            checkInCommits: commits,
            checkInRequestsPerAdmitted: round(
              reports.reduce((sum, r) => sum + r.checkInRequests, 0) / admittedAll,
              4,
            ),
            notYetAnswers: reports.reduce((sum, r) => sum + r.notYet, 0),
            reservationsPerCommit: round(committed / Math.max(1, commits), 2),
          }
        : {}),
      p50AdmitMs: round(percentile(latencies, 0.5), 2),
      p99AdmitMs: round(percentile(latencies, 0.99), 2),
      admitters,
      processes: perProcess.length,
      offeredPerSecond: demand * rate,
      horizonMs,
      dynamoRequests: requests,
      admittedIncludingReservedPastEnd: admittedAll,
    };
  } finally {
    await engine.stop();
  }
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

const results = [];
for (const name of values.engines.split(',') as EngineName[]) {
  const result = await benchEngine(name);
  console.error(`[${name}] ${JSON.stringify(result)}`);
  results.push(result);
}
console.log(JSON.stringify(results));
