/**
 * A scheduling scenario end to end, as `npm start -- --scenario priority` runs it
 * (local/run-scenario.ts): a small low-priority flood from one producer with urgent calls arriving
 * during it, through the local stack; then the report, which tabulates each level's wait and
 * charts nothing it has no data for. Untimed: it checks what ran and what the report says, not
 * how fast (speed is the benchmark's, test/bench/e2e.ts).
 */
import { describe, expect, it } from 'vitest';
import { renderReport } from '../../local/report.js';
import { runScenario } from '../../local/run-scenario.js';
import { SCENARIOS } from '../../local/scenarios.js';
import { LOCAL_LATE_ALLOWANCE_MS } from '../../local/stack.js';

describe('a scheduling scenario through the local stack', () => {
  it('runs every call of both levels once and reports the waits by level', async () => {
    const run = await runScenario(SCENARIOS.priority, {
      safetyFactor: 1,
      lateAllowanceMs: LOCAL_LATE_ALLOWANCE_MS,
      scale: 0.1,
      concurrency: 2,
      compare: false,
    });
    const [sluice] = run.outcomes;
    expect(sluice?.completed).toBe(22);
    expect(sluice?.duplicates).toBe(0);
    expect(sluice?.waitsMs?.get('low')).toHaveLength(20);
    expect(sluice?.waitsMs?.get('high')).toHaveLength(2);
    const html = renderReport({
      workload: run.workload,
      outcomes: run.outcomes,
      settings: { scenario: 'priority' },
      generatedAt: new Date(0),
    });
    expect(html).toContain('wait by priority level');
    expect(html).toMatch(/<td>high<\/td><td>2<\/td>/);
    expect(html).toMatch(/<td>low<\/td><td>20<\/td>/);
  }, 120_000);
});
