/**
 * A small end-to-end run of the local stack (local/stack.ts): a storm of a few dozen calls
 * from two accounts through the queues, the dispatcher and the provider simulator, then the HTML
 * report, opened in headless Chromium (Debian's package, driven by playwright-core) to check its
 * charts rendered. Without /usr/bin/chromium the browser check is skipped, loudly — unless CI is
 * set, where it must run (.ci/run installs chromium).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityKey } from '../../local/activity.js';
import { writeReport } from '../../local/report.js';
import { type LocalStack, startLocalStack } from '../../local/stack.js';
import {
  buildWorkload,
  DEFAULT_STORM,
  type RunOutcome,
  runThroughStack,
} from '../../local/workload.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const accounts = ['111111111111', '222222222222'];
// Half the provider's limits: headroom for calls that run late while the whole suite loads the CPU.
const limits = { safetyFactor: 0.5 };
const workload = buildWorkload({
  accounts,
  regions: ['us-east-1'],
  limits,
  // The default storm's calls, fewer of each: still above every bucket's burst at this safety factor.
  storm: DEFAULT_STORM.map((call) => ({
    ...call,
    count: call.operation === 'RunInstances' ? 8 : 12,
  })),
});

let stack: LocalStack;
let outcome: RunOutcome;
const reportDir = mkdtempSync(join(tmpdir(), 'sluice-report-'));

beforeAll(async () => {
  stack = await startLocalStack({ accounts, config: { limits }, start: true });
  outcome = await runThroughStack(stack, workload, { timeoutMs: 40_000 });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(reportDir, { recursive: true, force: true });
});

describe('local stack, end to end', () => {
  it('completes every call once, within the provider limits, in every account', () => {
    expect(outcome.total).toBe(64);
    expect(outcome.completed).toBe(outcome.total);
    expect(outcome.failed).toBe(0);
    expect(outcome.duplicates).toBe(0);
    expect(outcome.providerThrottles).toBe(0);
    expect(stack.errors).toEqual([]);
    // Each account's calls were signed as that account: its own provider buckets.
    for (const account of accounts) {
      expect(stack.simulator?.statsFor(account, 'us-east-1', 'RunInstances').executed).toBe(8);
      // The live view's counts: every call admitted once by its bucket, none left running.
      const key = activityKey(account, 'us-east-1', 'RunInstances');
      expect(stack.activity.admitted(key)).toBe(8);
      expect(stack.activity.running(key)).toBe(0);
    }
    expect(outcome.dynamoRequests).toBeGreaterThan(0);
  });

  it('writes an HTML report whose charts render in headless Chromium', async (context) => {
    const file = writeReport(reportDir, {
      workload,
      outcomes: [outcome],
      generatedAt: new Date(),
      settings: { test: 'e2e' },
    });
    expect(existsSync(file)).toBe(true);
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install chromium`);
      console.warn(
        `SKIPPED: report rendering check — ${CHROMIUM} not found (apt-get install chromium; CI runs it)`,
      );
      context.skip();
    }
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(file).href);
      const charts = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          const drawn = [...svg.querySelectorAll('polyline.series')].filter(
            (line) => (line.getAttribute('points') ?? '').trim().split(/\s+/).length > 1,
          ).length;
          return { width: box.width, height: box.height, drawn };
        }),
      );
      // Completion, throttles, latency, and per operation an admitted- and an executed-per-second
      // chart.
      expect(charts.length).toBe(9);
      const titles = await page.$$eval('svg.chart', (svgs) =>
        svgs.map((svg) => svg.querySelector('text.title')?.textContent ?? ''),
      );
      expect(titles).toContain('RunInstances: admitted per second');
      expect(titles).toContain('RunInstances: executed per second');
      for (const chart of charts) {
        expect(chart.width).toBeGreaterThan(100);
        expect(chart.height).toBeGreaterThan(100);
        expect(chart.drawn).toBeGreaterThan(0);
      }
      expect(await page.locator('table td', { hasText: 'Sluice' }).count()).toBe(1);
    } finally {
      await browser.close();
    }
  }, 30_000);
});
