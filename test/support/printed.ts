/**
 * What code prints while it runs: Powertools writes through a Console bound to stdout, and its
 * warnings to stderr; Lambda sends both to the function's log stream.
 */
import { vi } from 'vitest';

/** Runs `act` with stdout and stderr captured; returns its value and everything printed. */
export async function printedDuring<T>(
  act: () => T | Promise<T>,
): Promise<{ value: T; printed: string }> {
  const chunks: string[] = [];
  const capture = ((chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  try {
    return { value: await act(), printed: chunks.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
}
