/** Resolves after `ms` milliseconds: the real clock's wait, for code that takes a `sleep` seam. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
