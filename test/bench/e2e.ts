/**
 * `npm run bench:e2e [-- --compare] [-- --scale N] [-- --safety-factor F]`: a fixed workload (the
 * demo's storm: 3 accounts × 2 regions × RunInstances, DescribeInstances, ListServiceQuotas)
 * through the local stack. Progress on stderr; the last stdout line is one JSON object:
 * `{total, completed, failed, providerThrottles, duplicates, drainSeconds, idealSeconds,
 * drainRatio, p50LatencyMs, p99LatencyMs, ddbRequestsPerCall}`, with `sdkStandard` and
 * `sdkAdaptive` (the same figures for uncoordinated clients using the SDK's retry modes) when
 * run with `--compare`. `idealSeconds` is `(N − burst) / rate` for the bucket that limits, at
 * the provider's limits.
 */
import { parseArgs } from 'node:util';
import { startLocalStack } from '../../shared/local/stack.js';
import {
  buildWorkload,
  DEFAULT_ACCOUNTS,
  figures,
  type LiveView,
  runThroughStack,
  runUncoordinated,
} from '../../shared/local/workload.js';

const { values } = parseArgs({
  options: {
    compare: { type: 'boolean', default: false },
    scale: { type: 'string', default: '1' },
    'safety-factor': { type: 'string', default: '0.8' },
    concurrency: { type: 'string', default: '2' },
    'late-allowance-ms': { type: 'string', default: '250' },
  },
});
const limits = { safetyFactor: Number(values['safety-factor']) };
const workload = buildWorkload({ scale: Number(values.scale), limits });
let lastLog = 0;
const onTick = (view: LiveView) => {
  if (view.elapsedS - lastLog < 5) return;
  lastLog = view.elapsedS;
  let throttled = 0;
  for (const b of view.buckets.values()) throttled += b.throttled;
  process.stderr.write(
    `[${view.elapsedS.toFixed(0)} s] ${view.name}: ${view.finished}/${view.total} finished, ${throttled} throttles\n`,
  );
};

process.stderr.write(
  `e2e: ${workload.requests.length} calls, ${workload.buckets.length} buckets, ideal ${workload.idealSeconds.toFixed(1)} s\n`,
);
const stack = await startLocalStack({
  accounts: DEFAULT_ACCOUNTS,
  config: { limits, lateAllowanceMs: Number(values['late-allowance-ms']) },
  maxConcurrency: Number(values.concurrency),
  start: true,
});
let sluice: ReturnType<typeof figures>;
try {
  sluice = figures(await runThroughStack(stack, workload, { onTick }));
} finally {
  await stack.stop();
}
const out: Record<string, unknown> = { ...sluice };
if (values.compare) {
  lastLog = 0;
  out.sdkStandard = figures(await runUncoordinated(workload, { retryMode: 'standard', onTick }));
  lastLog = 0;
  out.sdkAdaptive = figures(await runUncoordinated(workload, { retryMode: 'adaptive', onTick }));
}
console.log(JSON.stringify(out));
