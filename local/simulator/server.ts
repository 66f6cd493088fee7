/**
 * The simulator's HTTP side: one node:http server on loopback that speaks both protocols, as the
 * real SDK clients reach it (pointed here by `AWS_ENDPOINT_URL_EC2` /
 * `AWS_ENDPOINT_URL_SERVICE_QUOTAS` or an explicit `endpoint`). A request with an
 * `X-Amz-Target` header is Service Quotas (awsJson1_1); any other is EC2 Query, its parameters
 * in the form-urlencoded body (or the query string of a GET). The caller comes from the SigV4
 * credential scope. Answers can be delayed by a fixed latency; a reset fault destroys the socket.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../emulators/loopback.js';
import { type Answer, callerOf, type Reply } from './call.js';
import { ec2Error } from './ec2-protocol.js';
import { ProviderError } from './errors.js';
import type { SimFault } from './faults.js';
import type { ProviderSimulatorOptions } from './options.js';
import { Simulator } from './simulator.js';
import type { SimActionStats, SimCounters, SimExecution } from './stats.js';
import type { SimBucketKey } from './throttle.js';

/** A running simulator. */
export interface ProviderSimulator {
  /** `http://127.0.0.1:<port>`: the `endpoint` for SDK clients of both services. */
  readonly endpoint: string;
  readonly port: number;
  /** Counters per (account, region, service, action), sorted by those fields. */
  stats(): SimActionStats[];
  /** Counters of one (account, region, action), summed over services; zeros when none. */
  statsFor(account: string, region: string, action: string): SimCounters;
  /** Calls that ran, in order (a live view; `reset()` empties it). */
  readonly executions: readonly SimExecution[];
  /**
   * `ClientToken` → number of times a call carrying it ran, across accounts, regions and
   * actions (Sluice derives tokens from globally unique request ids). Exactly-once means 1 each.
   */
  executedClientTokens(): Map<string, number>;
  /** Tokens in a bucket now (refilled to the clock); a bucket never used is full. */
  bucketTokens(key: SimBucketKey): number;
  /** Tokens taken from a bucket by the calls it admitted (DryRuns: the request bucket only). */
  bucketDebits(key: SimBucketKey): number;
  /** Arms a fault; returns a function that disarms it. */
  inject(fault: SimFault): () => void;
  /**
   * Back to the start: full buckets, no penalties, zero counters, no executions, idempotency
   * records and instances forgotten, injected faults disarmed, the options' faults re-armed.
   */
  reset(): void;
  /** Stops the server and closes every connection; idempotent. */
  close(): Promise<void>;
}

/** Larger bodies are refused: nothing the two APIs take comes close, and it bounds memory. */
const MAX_BODY_BYTES = 5 * 1024 * 1024;

/**
 * Starts a provider that throttles like Amazon EC2 and Service Quotas on 127.0.0.1 (loopback
 * only: it answers unauthenticated), with the limits catalog's default limits unless overridden.
 *
 * @example
 * const sim = await startProviderSimulator({ clock: () => now });
 * const ec2 = new EC2Client({ endpoint: sim.endpoint, region: 'us-east-1', maxAttempts: 1 });
 */
export async function startProviderSimulator(
  options: ProviderSimulatorOptions = {},
): Promise<ProviderSimulator> {
  const simulator = new Simulator(options);
  const pendingTimers = new Set<NodeJS.Timeout>();
  const hanging = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        let reply: Reply;
        try {
          reply = route(simulator, req, body, options);
        } catch (err) {
          // A simulator bug or a bad option (e.g. an invalid limit) must surface in the test
          // as an answer, not as a request that hangs until the client times out.
          reply = ec2Error(new ProviderError('InternalError', String(err), 500), randomUUID());
        }
        if (reply === 'reset') {
          // No answer at all: the SDK sees the socket close under it (ECONNRESET).
          req.socket.destroy();
          return;
        }
        if (reply === 'hang') {
          // Never answered: the caller's timeout ends it (or close(), which drops the socket).
          hanging.add(res);
          res.once('close', () => hanging.delete(res));
          return;
        }
        const answer = reply;
        const latency = options.latencyMs ?? 0;
        if (latency <= 0) {
          send(res, answer);
          return;
        }
        const timer = setTimeout(() => {
          pendingTimers.delete(timer);
          send(res, answer);
        }, latency);
        pendingTimers.add(timer);
      },
      () => {
        if (!res.headersSent && !res.destroyed) send(res, { status: 413, headers: {}, body: '' });
      },
    );
  });

  const { endpoint, port } = await listenOnLoopback(server, options.port ?? 0);

  let closed: Promise<void> | undefined;
  return {
    endpoint,
    port,
    stats: () => simulator.stats.list(),
    statsFor: (account, region, action) => simulator.stats.sumFor(account, region, action),
    executions: simulator.stats.executions,
    executedClientTokens: () => simulator.stats.executedClientTokens(),
    bucketTokens: (key) => simulator.bucketTokens(key),
    bucketDebits: (key) => simulator.bucketDebits(key),
    inject: (fault) => simulator.faults.arm(fault),
    reset: () => simulator.reset(),
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        for (const timer of pendingTimers) clearTimeout(timer);
        pendingTimers.clear();
        for (const res of hanging) res.destroy();
        hanging.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        // Idle keep-alive sockets from SDK clients would otherwise hold close() open.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

/** Hands the request to the service its protocol names. */
function route(
  simulator: Simulator,
  req: IncomingMessage,
  body: string,
  options: ProviderSimulatorOptions,
): Reply {
  const caller = callerOf(req.headers.authorization, options);
  const target = header(req, 'x-amz-target');
  if (target !== undefined) return simulator.serviceQuotas(target, body, caller);
  const url = new URL(req.url ?? '/', 'http://localhost');
  return simulator.ec2(new URLSearchParams(req.method === 'GET' ? url.search : body), caller);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RangeError('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, {
    ...answer.headers,
    'content-length': Buffer.byteLength(answer.body).toString(),
  });
  res.end(answer.body);
}
