/**
 * Tests that need a program this repository does not install (python3 with boto3, the AWS CLI):
 * whether it is here, and skipping loudly when it is not — or failing, where it is required.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** Runs a program to completion without blocking the event loop (the local stack runs in it). */
export const run = promisify(execFile);

/** Whether `command args…` runs and exits 0. */
export async function works(command: string, args: readonly string[]): Promise<boolean> {
  try {
    await run(command, [...args], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Skips the running test with a loud warning naming what is missing and how to get it; where
 * `required` (CI, for what the machine is meant to have) it fails instead.
 */
export function skipWithout(
  context: { skip: (note?: string) => void },
  missing: string,
  { install, required }: { readonly install: string; readonly required: boolean },
): void {
  if (required) throw new Error(`${missing} is missing and this run requires it: ${install}`);
  console.warn(`\n*** SKIPPED: ${missing} is missing (${install}) ***\n`);
  context.skip(`${missing} is missing`);
}
