/**
 * Amazon's DynamoDB Local (a Java program), fetched from the npm registry into .cache/ and run as a
 * child process. No vitest import: used by the vitest global setup and by benchmark scripts.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { RunningEmulator } from '../../local/emulators/dynalite.js';
import { sleep } from '../../shared/util/sleep.js';
import { dynamoClient } from './engines.js';

const execFileAsync = promisify(execFile);

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the DynamoDB Local distribution lives (gitignored). */
export const DYNAMODB_LOCAL_DIR = join(REPO_ROOT, '.cache', 'dynamodb-local');

/** npm package whose `emulator/` folder is DynamoDB Local 1.25 (jar + native libraries). */
export const DYNAMODB_LOCAL_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';

const JAR = 'DynamoDBLocal.jar';
const DEFAULT_START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 8_000;

/**
 * Makes sure `<DYNAMODB_LOCAL_DIR>/DynamoDBLocal.jar` exists and returns its path. Downloads the
 * package tarball with `npm pack` (nothing is installed) and extracts only `package/emulator`.
 * Idempotent; concurrent callers each extract into a private temp dir and rename it into place,
 * so the directory appears complete or not at all.
 */
export async function fetchDynamoDbLocal(): Promise<string> {
  const jar = join(DYNAMODB_LOCAL_DIR, JAR);
  if (existsSync(jar)) return jar;

  const cacheDir = dirname(DYNAMODB_LOCAL_DIR);
  await mkdir(cacheDir, { recursive: true });
  // Same filesystem as the destination, so the final rename is atomic.
  const tmp = await mkdtemp(join(cacheDir, 'dynamodb-local.tmp-'));
  try {
    const { stdout } = await execFileAsync(
      'npm',
      ['pack', DYNAMODB_LOCAL_PACKAGE, '--pack-destination', tmp, '--json', '--silent'],
      { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 },
    );
    const tarball = join(tmp, packedFilename(stdout));
    await execFileAsync('tar', ['-xzf', tarball, '-C', tmp, 'package/emulator']);
    const extracted = join(tmp, 'package', 'emulator');
    if (!existsSync(join(extracted, JAR))) {
      throw new Error(`${DYNAMODB_LOCAL_PACKAGE}: no emulator/${JAR} in the package`);
    }
    await moveIntoPlace(extracted);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (!existsSync(jar)) throw new Error(`DynamoDB Local: ${jar} missing after extraction`);
  return jar;
}

function packedFilename(npmPackJson: string): string {
  const parsed: unknown = JSON.parse(npmPackJson);
  const first = Array.isArray(parsed)
    ? (parsed[0] as { filename?: unknown } | undefined)
    : undefined;
  if (typeof first?.filename !== 'string') {
    throw new Error(`unexpected 'npm pack --json' output: ${npmPackJson.slice(0, 500)}`);
  }
  return first.filename;
}

async function moveIntoPlace(extracted: string): Promise<void> {
  try {
    await rename(extracted, DYNAMODB_LOCAL_DIR);
    return;
  } catch (error) {
    if (existsSync(join(DYNAMODB_LOCAL_DIR, JAR))) return; // another process got there first
    if (!isFsError(error, 'EEXIST', 'ENOTEMPTY')) throw error;
  }
  // A directory without the jar (left by hand or an old layout): set it aside, then retry.
  const stale = await mkdtemp(join(dirname(DYNAMODB_LOCAL_DIR), 'dynamodb-local.stale-'));
  try {
    await rename(DYNAMODB_LOCAL_DIR, join(stale, 'old')).catch(() => undefined);
    await rename(extracted, DYNAMODB_LOCAL_DIR).catch((error: unknown) => {
      if (!existsSync(join(DYNAMODB_LOCAL_DIR, JAR))) throw error;
    });
  } finally {
    await rm(stale, { recursive: true, force: true });
  }
}

function isFsError(error: unknown, ...codes: string[]): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && codes.includes(code);
}

/** Whether `java` is on the PATH and runs. */
export function javaAvailable(): boolean {
  const result = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

export interface DynamoDbLocalOptions {
  /** Directory holding DynamoDBLocal.jar and DynamoDBLocal_lib (default DYNAMODB_LOCAL_DIR). */
  readonly dir?: string;
  /** How long to wait for it to answer ListTables (default 30 s). */
  readonly timeoutMs?: number;
}

/**
 * Starts DynamoDB Local in memory on a free loopback port and waits until it answers. The JVM is
 * stopped by `stop()`, when this process exits, and, through a watchdog on its stdin pipe, even if
 * this process is killed outright, so no JVM outlives the run. Needs a POSIX `sh`.
 */
export async function startDynamoDbLocal(
  options: DynamoDbLocalOptions = {},
): Promise<RunningEmulator> {
  const dir = options.dir ?? DYNAMODB_LOCAL_DIR;
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  if (!existsSync(join(dir, JAR))) {
    throw new Error(`DynamoDB Local: ${join(dir, JAR)} not found (run: npm run dynamodb-local)`);
  }
  // The port is free when probed but could be taken before the JVM binds it: retry on a new one.
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    try {
      return await startOnPort(dir, port, timeoutMs);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortInUseError)) throw error;
    }
  }
}

class PortInUseError extends Error {}

/**
 * The JVM runs under `sh`, in its own process group, next to a watchdog that SIGTERMs it once the
 * wrapper's stdin reaches EOF: when stop() closes our end, or when the kernel closes it because
 * this process ended, however it ended. `sh` reaps the JVM and exits with its status, so the
 * wrapper's exit means the JVM is gone.
 */
const WATCHDOG = [
  'exec 3<&0',
  '"$@" </dev/null 3<&- &',
  'pid=$!',
  '{ cat <&3 >/dev/null; kill "$pid" 2>/dev/null; } &',
  'wait "$pid"',
].join('\n');

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Signals a process group; false if it is gone. */
function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  });
}

async function startOnPort(dir: string, port: number, timeoutMs: number): Promise<RunningEmulator> {
  const started = Date.now();
  const javaArgs = [
    '-XX:-UsePerfData',
    `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(dir, JAR),
    '-inMemory',
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  const child = spawn('sh', ['-c', WATCHDOG, 'dynamodb-local', 'java', ...javaArgs], {
    cwd: dir,
    detached: true, // own process group: a last-resort SIGKILL reaches the JVM and the watchdog
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pgid = child.pid;
  if (pgid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`DynamoDB Local: could not spawn sh: ${error.message}`);
  }
  liveGroups.add(pgid);
  installExitHook();

  // Unreferenced, so a script that forgets stop() still ends (and the exit hook kills the JVM).
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }

  let output = '';
  const capture = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);

  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = signal ?? `exit code ${code}`;
      resolve();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      child.stdin?.destroy(); // EOF for the watchdog, which SIGTERMs the JVM
      if (!(await settlesWithin(exited, STOP_GRACE_MS))) {
        killGroup(pgid, 'SIGKILL');
        await exited;
      }
      killGroup(pgid, 'SIGKILL'); // whatever is left of the watchdog
      liveGroups.delete(pgid);
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const probe = dynamoClient(endpoint, {
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
  });
  try {
    const deadline = started + timeoutMs;
    for (;;) {
      if (exitStatus !== undefined) {
        const message = `DynamoDB Local exited during startup (${exitStatus}) on port ${port}`;
        await stop();
        if (/BindException|Address already in use/i.test(output)) {
          throw new PortInUseError(`${message}\n${output}`);
        }
        throw new Error(`${message}. Output:\n${output}`);
      }
      try {
        await probe.send(new ListTablesCommand({ Limit: 1 }));
        return { endpoint, stop };
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `DynamoDB Local did not answer on ${endpoint} within ${timeoutMs} ms. Output:\n${output}`,
        );
      }
      await Promise.race([exited, sleep(100)]);
    }
  } finally {
    probe.destroy();
  }
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolvePort(port) : reject(new Error('no free port'))));
    });
  });
}

/** Whether `promise` settles within `ms`. The timer keeps the event loop alive while waiting. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
