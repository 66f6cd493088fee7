/**
 * `sluice`: the command line of the producer library: submit requests, read results.
 *
 * All logic is behind {@link run}, which takes the arguments and its streams and environment and
 * returns the exit code, so tests drive it in-process. Nothing here reads `process` except
 * {@link main}. Each command builds only the AWS client it needs (settings.ts).
 */
import { Command, CommanderError } from 'commander';
import {
  ClientConfigurationError,
  InvalidRequestError,
  MalformedResultError,
  ResultTimeoutError,
} from '../shared/client/index.js';
import { CliError, EXIT_CODES, EXIT_HELP } from './exit-codes.js';
import { addResultCommand } from './result.js';
import { type CliIo, ENV_HELP } from './settings.js';
import { addSubmitCommand } from './submit.js';

/**
 * Runs the CLI with `argv` (the arguments after the program name) and returns the exit code.
 * Never throws and never exits the process.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT_CODES.ok;
  const err = (line: string) => io.stderr.write(`${line}\n`);
  const context = {
    io,
    env: io.env ?? process.env,
    out: (line: string) => io.stdout.write(`${line}\n`),
    err,
    exit: (code: number) => {
      exitCode = code;
    },
  };

  const program = new Command('sluice')
    .description('Submit API-call requests to Sluice and read their results.')
    // Must come before the subcommands: they copy these settings when created.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', `${EXIT_HELP}\n${ENV_HELP}`);
  addSubmitCommand(program, context);
  addResultCommand(program, context);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    return exitCodeOf(error, err);
  }
}

/** Runs the CLI on the process's arguments, streams and environment, and sets its exit code. */
export async function main(): Promise<void> {
  // `sluice … | head` closes stdout early: stop quietly, as other commands do, instead of
  // crashing on the unhandled EPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? EXIT_CODES.ok);
  });
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  });
}

/** Reports an error on stderr and picks its exit code; errors are told apart by class. */
function exitCodeOf(error: unknown, err: (line: string) => void): number {
  if (error instanceof CommanderError) {
    // Commander already printed its message or the help. It exits 0 for help asked for
    // (`--help`, `help <command>`), 1 for help shown on error (no command): usage, for us.
    return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
  }
  if (error instanceof CliError) {
    err(`error: ${error.message}`);
    return error.exitCode;
  }
  if (error instanceof InvalidRequestError || error instanceof ClientConfigurationError) {
    err(`error: ${error.message}`);
    return EXIT_CODES.usage;
  }
  if (error instanceof ResultTimeoutError) {
    err(`error: ${error.message}`);
    return EXIT_CODES.notYet;
  }
  if (error instanceof MalformedResultError) {
    err(`error: ${error.message}`);
    return EXIT_CODES.aws;
  }
  const { name, message } =
    error instanceof Error ? error : { name: 'Error', message: String(error) };
  err(`error: ${name}: ${message}`);
  return EXIT_CODES.aws;
}
