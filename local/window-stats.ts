/**
 * Measures how many events fall in sliding windows: the check behind "never more than
 * `burst + rate·W` in any window W", used by the demo's report, the benchmarks and the tests.
 */

/**
 * The most events (one entry per token) in any closed window `[t, t + window]`, and how many
 * windows — one starting at each event — hold more than `bound`. Times and window share a unit.
 */
export function windowStats(
  times: readonly number[],
  window: number,
  bound = Number.POSITIVE_INFINITY,
): { max: number; violations: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  let violations = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start++) {
    while (end < sorted.length && (sorted[end] as number) <= (sorted[start] as number) + window)
      end++;
    const count = end - start;
    max = Math.max(max, count);
    if (count > bound + 1e-9) violations++;
  }
  return { max, violations };
}

/** The value at quantile `q` (0–1) of an ascending array; 0 for an empty one. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}
