/**
 * The local stack's HTML report: one self-contained file, charts drawn as inline SVG generated
 * here (no scripts, no network), and the summary table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { percentile } from './window-stats.js';
import type { RunOutcome, Workload } from './workload.js';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];
const W = 560;
const H = 240;
const PAD = { left: 48, right: 12, top: 28, bottom: 36 };

interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
  readonly colour?: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/** A line chart as an SVG element (`class="chart"`), one polyline per series. */
export function lineChart(
  title: string,
  xLabel: string,
  yLabel: string,
  series: readonly Series[],
) {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = niceMax(Math.max(1, ...xs));
  const yMax = niceMax(Math.max(1, ...ys) * 1.05);
  const px = (x: number) => PAD.left + (x / xMax) * (W - PAD.left - PAD.right);
  const py = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const grid = ticks
    .map((t) => {
      const y = py(t * yMax);
      const x = px(t * xMax);
      return (
        `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y}" y2="${y}" stroke="#eee"/>` +
        `<text x="${PAD.left - 4}" y="${y + 4}" text-anchor="end">${+(t * yMax).toFixed(1)}</text>` +
        `<text x="${x}" y="${H - PAD.bottom + 14}" text-anchor="middle">${+(t * xMax).toFixed(1)}</text>`
      );
    })
    .join('');
  const lines = series
    .map((s, i) => {
      const colour = s.colour ?? COLOURS[i % COLOURS.length];
      const points = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
      return `<polyline class="series" fill="none" stroke="${colour}" stroke-width="1.6"${
        s.dashed ? ' stroke-dasharray="5 4"' : ''
      } points="${points}"><title>${escapeHtml(s.name)}</title></polyline>`;
    })
    .join('');
  const legend = series
    .map((s, i) => {
      const colour = s.colour ?? COLOURS[i % COLOURS.length];
      return `<span class="key"><i style="border-color:${colour};border-style:${
        s.dashed ? 'dashed' : 'solid'
      }"></i>${escapeHtml(s.name)}</span>`;
    })
    .join('');
  return `<figure><svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">
<text x="${W / 2}" y="16" text-anchor="middle" class="title">${escapeHtml(title)}</text>${grid}
<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#888"/>
<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#888"/>
<text x="${W / 2}" y="${H - 4}" text-anchor="middle">${escapeHtml(xLabel)}</text>
<text x="12" y="${H / 2}" text-anchor="middle" transform="rotate(-90 12 ${H / 2})">${escapeHtml(yLabel)}</text>
${lines}</svg><figcaption>${legend}</figcaption></figure>`;
}

/** Counts per whole second, as [second, count] points (0 … last). */
export function perSecond(times: readonly number[], until: number): [number, number][] {
  const counts = new Array<number>(Math.max(1, Math.ceil(until))).fill(0);
  for (const t of times) {
    const i = Math.min(counts.length - 1, Math.max(0, Math.floor(t)));
    counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts.map((c, i) => [i + 0.5, c]);
}

/**
 * The summary rows shared by the terminal and the report. `provider calls` counts every call the
 * provider received (throttled ones too); `coalesced` and `cached`, the requests Sluice answered
 * with no call of their own: an identical read's call in flight, or the cache.
 */
export function summaryRows(outcomes: readonly RunOutcome[]): string[][] {
  return [
    [
      'run',
      'total',
      'completed',
      'failed',
      'provider throttles',
      'throttles/completed',
      'duplicates',
      'provider calls',
      'coalesced',
      'cached',
      'drain s',
      'ideal s',
      'drain/ideal',
      'p50 ms',
      'p99 ms',
    ],
    ...outcomes.map((o) => [
      o.name,
      String(o.total),
      String(o.completed),
      String(o.failed),
      String(o.providerThrottles),
      (o.providerThrottles / Math.max(1, o.completed)).toFixed(2),
      String(o.duplicates),
      String(o.providerCalls),
      o.coalesced === undefined ? '-' : String(o.coalesced),
      o.cached === undefined ? '-' : String(o.cached),
      o.drainSeconds.toFixed(1),
      o.idealSeconds.toFixed(1),
      o.idealSeconds > 0 ? (o.drainSeconds / o.idealSeconds).toFixed(2) : '-',
      String(Math.round(percentile(o.latenciesMs, 0.5))),
      String(Math.round(percentile(o.latenciesMs, 0.99))),
    ]),
  ];
}

/** A text table, columns padded. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  '),
    )
    .join('\n');
}

/** The whole report page. */
export function renderReport(input: {
  readonly workload: Workload;
  readonly outcomes: readonly RunOutcome[];
  readonly settings: Readonly<Record<string, string>>;
  readonly generatedAt: Date;
}): string {
  const { workload, outcomes } = input;
  const until = Math.max(1, ...outcomes.map((o) => o.drainSeconds)) + 1;
  const sections: string[] = [];

  // Per operation: one line per (account, region), the limit dashed; what the coordinator
  // admitted (by slot) when it ran, then what the provider executed.
  for (const outcome of outcomes) {
    const charts: string[] = [];
    const operations = [...new Set(workload.buckets.map((b) => b.operation))];
    const kinds = [
      ...(outcome.admissions ? [['admitted', outcome.admissions] as const] : []),
      ['executed', outcome.executions] as const,
    ];
    for (const [kind, times] of kinds)
      for (const operation of operations) {
        const buckets = workload.buckets.filter((b) => b.operation === operation);
        const series: Series[] = buckets.map((b) => ({
          name: `${b.account} ${b.region}`,
          points: perSecond(times.get(b.label) ?? [], until),
        }));
        const first = buckets[0];
        if (first) {
          series.push({
            name: `provider limit ${first.provider.rate}/s (burst ${first.provider.burst})`,
            points: [
              [0, first.provider.rate],
              [until, first.provider.rate],
            ],
            dashed: true,
            colour: '#000',
          });
        }
        charts.push(lineChart(`${operation}: ${kind} per second`, 'seconds', 'calls/s', series));
      }
    const what = outcome.admissions
      ? 'calls admitted and calls the provider ran'
      : 'calls the provider ran';
    sections.push(
      `<h2>${escapeHtml(outcome.name)}: ${what}, per bucket</h2><div class="grid">${charts.join('')}</div>`,
    );
  }

  // The learned rate of each bucket the coordinator slowed, against its configured limit; and
  // each priority level's (and producer's) wait: who waited for whom.
  for (const outcome of outcomes) {
    const slowed = [
      ...(outcome.learnedRates ?? new Map<string, readonly (readonly [number, number])[]>()),
    ].filter(([label, points]) => {
      const limit = workload.buckets.find((b) => b.label === label)?.configured.rate ?? 0;
      return points.some(([, rate]) => rate < limit - 1e-9);
    });
    const charts = slowed.map(([label, points]) => {
      const limit = workload.buckets.find((b) => b.label === label)?.configured.rate ?? 0;
      return lineChart(`${label}: learned rate`, 'seconds', 'calls/s', [
        { name: 'learned rate', points },
        {
          name: `configured ${+limit.toFixed(3)}/s`,
          points: [
            [0, limit],
            [until, limit],
          ],
          dashed: true,
          colour: '#000',
        },
      ]);
    });
    if (charts.length > 0)
      sections.push(
        `<h2>${escapeHtml(outcome.name)}: learned rate of the buckets it slowed</h2><div class="grid">${charts.join('')}</div>`,
      );
    const waitRows = [...(outcome.waitsMs ?? new Map<string, readonly number[]>())].map(
      ([level, list]) => {
        const sorted = [...list].sort((a, b) => a - b);
        return `<tr><td>${escapeHtml(level)}</td><td>${sorted.length}</td><td>${Math.round(percentile(sorted, 0.5))}</td><td>${Math.round(percentile(sorted, 0.99))}</td><td>${Math.round(sorted[sorted.length - 1] ?? 0)}</td></tr>`;
      },
    );
    const flowRows = [...(outcome.flows ?? new Map())].map(
      ([producer, f]) =>
        `<tr><td>${escapeHtml(producer)}</td><td>${f.completed}/${f.count}</td><td>${f.firstSentS.toFixed(1)}</td><td>${f.lastFinishedS.toFixed(1)}</td></tr>`,
    );
    if (waitRows.length > 0)
      sections.push(
        `<h2>${escapeHtml(outcome.name)}: wait by priority level (sent to the call leaving, ms)</h2><table><thead><tr><th>level</th><th>calls</th><th>p50</th><th>p99</th><th>max</th></tr></thead><tbody>${waitRows.join('')}</tbody></table>`,
      );
    if (flowRows.length > 0)
      sections.push(
        `<h2>${escapeHtml(outcome.name)}: by producer</h2><table><thead><tr><th>producer</th><th>done</th><th>first sent s</th><th>last result s</th></tr></thead><tbody>${flowRows.join('')}</tbody></table>`,
      );
  }

  const throttles = lineChart(
    'Provider throttles (cumulative)',
    'seconds',
    'throttles',
    outcomes.map((o) => ({ name: o.name, points: o.throttleSamples })),
  );
  const completion = lineChart(
    'Completed requests (cumulative)',
    'seconds',
    'completed',
    outcomes.map((o) => {
      let done = 0;
      const points: [number, number][] = [[0, 0]];
      for (const f of o.finishes) if (f.ok) points.push([f.atS, ++done]);
      return { name: o.name, points };
    }),
  );
  const latency = lineChart(
    'Latency distribution (share of requests finished within)',
    'seconds',
    'share %',
    outcomes.map((o) => {
      const n = o.latenciesMs.length;
      const step = Math.max(1, Math.floor(n / 200));
      const points: [number, number][] = [[0, 0]];
      for (let i = 0; i < n; i += step)
        points.push([(o.latenciesMs[i] ?? 0) / 1000, ((i + 1) / o.total) * 100]);
      if (n > 0) points.push([(o.latenciesMs[n - 1] ?? 0) / 1000, (n / o.total) * 100]);
      return { name: o.name, points };
    }),
  );
  const rows = summaryRows(outcomes);
  const table = `<table><thead><tr>${(rows[0] ?? []).map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .slice(1)
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
  const bucketRows = workload.buckets
    .map(
      (b) =>
        `<tr><td>${escapeHtml(b.label)}</td><td>${b.count}</td><td>${b.provider.rate}/s, ${b.provider.burst}</td><td>${+b.configured.rate.toFixed(3)}/s, ${b.configured.burst}</td><td>${b.idealSeconds.toFixed(1)}</td></tr>`,
    )
    .join('');
  const settings = Object.entries(input.settings)
    .map(([k, v]) => `<code>${escapeHtml(k)}=${escapeHtml(v)}</code>`)
    .join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice local stack report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #ddd;padding:6px}
svg text{font-size:11px;fill:#444}svg text.title{font-size:13px;fill:#111}
figcaption{font-size:12px}.key{margin-right:12px;white-space:nowrap}
.key i{display:inline-block;width:18px;border-top-width:2px;margin-right:4px;vertical-align:middle}
</style></head><body>
<h1>Sluice local stack — ${escapeHtml(input.generatedAt.toISOString())}</h1>
<p>${workload.requests.length} requests over ${workload.buckets.length} provider buckets. ${settings}</p>
<h2>Summary</h2>${table}
<div class="grid">${completion}${throttles}${latency}</div>
${sections.join('\n')}
<h2>Buckets</h2>
<table><thead><tr><th>bucket (account/region/operation)</th><th>calls</th><th>provider limit</th><th>configured limit</th><th>ideal s</th></tr></thead><tbody>${bucketRows}</tbody></table>
</body></html>
`;
}

/** Writes the report to `<dir>/sluice-report-<timestamp>.html`; returns its absolute path. */
export function writeReport(dir: string, input: Parameters<typeof renderReport>[0]): string {
  const absolute = resolve(dir);
  mkdirSync(absolute, { recursive: true });
  const file = join(
    absolute,
    `sluice-report-${input.generatedAt.toISOString().replace(/[:.]/g, '-')}.html`,
  );
  writeFileSync(file, renderReport(input));
  return file;
}
