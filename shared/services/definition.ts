/**
 * What the registry (./registry.ts) knows about a service, and the helpers service files share.
 * Apart from the registry so that service files can import these without importing the
 * registry that imports them.
 */
import type { LimitRules } from '../limits/types.js';

/** An SDK v3 command class, as exported by a client package (`RunInstancesCommand`). */
// biome-ignore lint/suspicious/noExplicitAny: SDK command classes differ in input/output types.
export type CommandClass = new (input: any) => any;

/** The part of an SDK v3 client the call runner uses. */
export interface SdkClient {
  // biome-ignore lint/suspicious/noExplicitAny: each client sends its own command types.
  send(command: any): Promise<any>;
  destroy(): void;
}

/** What the call runner needs from a client package. */
export interface LoadedService {
  /** Builds a client for one (account, region) with the given settings. */
  createClient(config: Record<string, unknown>): SdkClient;
  /** The command class for an operation, or `undefined` if the SDK has none by that name. */
  command(operation: string): CommandClass | undefined;
}

/**
 * How long one call may take (the SDK client's `requestHandler`): to connect, and in all, from
 * the request's start to the whole answer read. Without them a hung connection holds the call
 * until the function times out (the SDK's default is no timeout).
 */
export interface CallTimeouts {
  /** The TCP (and TLS) connection. */
  readonly connectionTimeoutMs: number;
  /** The whole call, connection included: past it the call fails with `TimeoutError`. */
  readonly requestTimeoutMs: number;
}

/**
 * What a read back shows of a call's effect: all of it (`applied`: the call ran, or one just like
 * it), no trace of it (`absent`: it did not run, and may be sent again), or something between —
 * the same keys with other values — that cannot tell a call that never ran from one whose effect
 * another writer has changed since (`unclear`).
 */
export type CheckedEffect = 'applied' | 'absent' | 'unclear';

/**
 * How to learn by reading whether a call that may have run took effect: the answer of a call
 * that is not safe to repeat can be lost (a hung connection, a dispatcher that died), and then
 * only the provider's state tells whether it ran. Only for calls whose whole effect can be read
 * back (`CreateTags`: the tags are there).
 */
export interface OutcomeCheck {
  /** The read-only operation of the same service that shows the effect (`DescribeTags`). */
  readonly operation: string;
  /** Its input for a call's input; `undefined` when this call's effect cannot be read back. */
  input(callInput: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined;
  /** What the read's output shows of the call's effect. */
  effect(
    callInput: Readonly<Record<string, unknown>>,
    output: Readonly<Record<string, unknown>>,
  ): CheckedEffect;
}

/** One service of the registry: everything Sluice knows about calling it. */
export interface ServiceDefinition {
  /** Service id used in requests (`call.service`) and in bucket keys. */
  readonly id: string;
  /** IAM action prefix (`ec2:RunInstances`, `servicequotas:ListServiceQuotas`). */
  readonly iamPrefix: string;
  /**
   * Operations that take an idempotency token, and the input field holding it. The dispatcher
   * derives the token from the request `id`, so a call re-run after a crash is the same call to
   * the provider (EC2 `ClientToken`: "Ensuring idempotency" in the EC2 API guide).
   */
  readonly idempotencyTokens: Readonly<Record<string, string>>;
  /**
   * Mutating operations that are idempotent by themselves, without a token: running one twice
   * leaves the same state as running it once (EC2 `TerminateInstances`: terminating a terminated
   * instance succeeds and changes nothing). A call cut off mid-flight is simply run again.
   */
  readonly idempotentOperations: ReadonlySet<string>;
  /** Operations that change nothing, so running them twice is harmless. */
  isReadOnly(operation: string): boolean;
  /**
   * Whether the service's calls take `DryRun` (EC2): a call with `DryRun: true` only checks, and
   * may be repeated. Elsewhere the SDK drops the field and the call runs. @default false
   */
  readonly takesDryRun?: boolean;
  /**
   * Mutating operations, not safe to repeat, whose effect can be read back: when the answer of
   * such a call is lost, the dispatcher reads instead of ending the request `OutcomeUnknown`.
   * @default none
   */
  readonly outcomeChecks?: Readonly<Record<string, OutcomeCheck>>;
  /** Default timeouts of its calls; the deployment's `callTimeouts` overrides them. */
  readonly callTimeouts: CallTimeouts;
  /**
   * Whether IAM evaluates resource conditions (`ec2:ResourceTag/<key>`) for the operation: a
   * producer's allowlist entry may carry conditions only for such operations, since a condition
   * on a key the request does not carry never matches and the allowance would be dead.
   */
  supportsResourceConditions(operation: string): boolean;
  /**
   * Loads the SDK client package. Use a dynamic `import()`: a client is a large module, and a
   * cold start should pay only for the services its batch needs.
   */
  load(): Promise<LoadedService>;
  /** The provider's throttling: which buckets each operation draws on, default limits, costs. */
  readonly limits: LimitRules;
}

/** Operations whose name says they only read (the EC2 and Service Quotas naming conventions). */
const READ_ONLY_PREFIXES = ['Describe', 'List', 'Get', 'Search'];

/** Read-only by name: `Describe*`, `List*`, `Get*`, `Search*`. */
export function readOnlyByName(operation: string): boolean {
  return READ_ONLY_PREFIXES.some((prefix) => operation.startsWith(prefix));
}

/**
 * A client package as the call runner uses it: `clientName` is its client class
 * (`EC2Client`), and each operation's command is exported as `<Operation>Command`.
 */
export function sdkPackage(module: Record<string, unknown>, clientName: string): LoadedService {
  const ClientClass = module[clientName] as new (config: Record<string, unknown>) => SdkClient;
  return {
    createClient: (config) => new ClientClass(config),
    command: (operation) => {
      const candidate = module[`${operation}Command`];
      return typeof candidate === 'function' ? (candidate as CommandClass) : undefined;
    },
  };
}
