/** The CLI's exit codes and the error that carries one. */

/** Exit codes, for scripts. Listed in every `--help`. */
export const EXIT_CODES = {
  /** submit: every request sent; result: the request succeeded. */
  ok: 0,
  /** result: the request finished `failed` or `rejected`. */
  unsuccessful: 1,
  /** A bad flag or setting, or an invalid request (nothing about it was sent). */
  usage: 2,
  /** result: no result yet (unknown, waiting or running), or `--wait` timed out. */
  notYet: 3,
  /** AWS or connection error: SQS, DynamoDB, credentials, network, an unreadable stored record. */
  aws: 4,
} as const;

/** The exit codes as `--help` lists them. */
export const EXIT_HELP = `
Exit codes:
  0  success: every request sent (submit); the request succeeded (result)
  1  the request finished failed or rejected (result; its JSON is printed)
  2  usage or validation error: bad flag or setting, invalid request (not sent)
  3  no result yet: the request is unknown, waiting or running, or --wait timed out
  4  AWS or connection error (SQS, DynamoDB, credentials, network)`;

/** A problem the CLI reports itself (`error: <message>` on stderr), with its exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A bad flag or setting: exit code 2. */
export function usageError(message: string, options?: ErrorOptions): CliError {
  return new CliError(EXIT_CODES.usage, message, options);
}
