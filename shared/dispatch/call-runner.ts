/**
 * Runs one API call for a request, as its producer: an SDK v3 client per (account, producer,
 * region, service), with credentials from STS AssumeRole into the target's role (or the
 * coordinator's own-account role) under the producer's session — `RoleSessionName`
 * `sluice-<producer>` and the session tag `sluice-producer`, so the account's CloudTrail names the
 * producer and the role's policy can allow each producer its own calls
 * (`aws:PrincipalTag/sluice-producer`) — and the SDK's retries off: the coordinator is the one
 * layer that retries (DESIGN.md) — and the service's timeouts (connection, whole call), so that
 * a hung connection fails the call in time.
 *
 * Clients are kept in a bounded cache (least recently used evicted and destroyed); credentials
 * per (account, producer) session, refreshed before they expire.
 *
 * Endpoints come from the SDK's standard resolution, so `AWS_ENDPOINT_URL_EC2` and friends
 * point calls anywhere compatible (the local provider simulator, a VPC endpoint …).
 */
import { createHash } from 'node:crypto';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import {
  doesIdentityRequireRefresh,
  isIdentityExpired,
  memoizeIdentityProvider,
} from '@smithy/core';
import { LRUCache } from 'lru-cache';
import type { CallTimeoutsConfig, TargetConfig } from '../config/deployment.js';
import {
  type CallTimeouts,
  type CheckedEffect,
  type LoadedService,
  type SdkClient,
  SERVICES,
  type ServiceDefinition,
} from '../services/registry.js';
import { requestKey } from '../storage/tables.js';

/** What the runner reads of a registry entry (tests pass fakes of this much). */
export type RunnableService = Pick<
  ServiceDefinition,
  'idempotencyTokens' | 'idempotentOperations' | 'isReadOnly' | 'load' | 'callTimeouts'
> &
  Partial<Pick<ServiceDefinition, 'outcomeChecks' | 'takesDryRun'>>;

/** The session tag that names the producer in a target account (`aws:PrincipalTag/…`). */
export const PRODUCER_SESSION_TAG = 'sluice-producer';

/** The role session name of a producer's calls: what CloudTrail shows. */
export function producerSessionName(producer: string): string {
  return `sluice-${producer}`;
}

/** SDK clients kept at most, unless told otherwise. */
export const DEFAULT_MAX_CLIENTS = 128;

/** The call of a request, as the runner needs it. */
export interface CallToRun {
  /** Whose call it is: its credentials, session and idempotency token are the producer's. */
  readonly producer: string;
  readonly id: string;
  readonly target: { readonly account: string; readonly region: string };
  readonly call: {
    readonly service: string;
    readonly operation: string;
    readonly input: Record<string, unknown>;
  };
}

/** The runner was asked for something the registry or the SDK does not know. */
export class UnsupportedCallError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'UnsupportedCallError';
    this.field = field;
  }
}

/** Settings of a {@link CallRunner}. */
export interface CallRunnerOptions {
  /** The deployment's targets: which role to assume per account. */
  readonly targets: readonly TargetConfig[];
  /** Service registry. @default SERVICES (shared/services/registry.ts) */
  readonly services?: Readonly<Record<string, RunnableService>>;
  /** Extra client settings (tests: credentials, endpoint). Applied to every client. @default {} */
  readonly clientDefaults?: Record<string, unknown>;
  /**
   * Credentials (or a credentials provider) per target account, for targets without `roleArn`:
   * the local stack signs each account's calls with its own key so the provider simulator sees
   * distinct callers. Overrides `clientDefaults.credentials`; `roleArn` overrides both.
   * @default undefined (the coordinator's own credentials for every account)
   */
  readonly credentialsFor?: (account: string) => unknown;
  /**
   * The role in the coordinator's own account that calls to targets without `roleArn` run
   * under, assumed per producer like a member role (no ExternalId: same account).
   * @default undefined (the coordinator's own credentials, or `credentialsFor`)
   */
  readonly ownAccountRoleArn?: string;
  /**
   * SDK clients kept at most; the least recently used is destroyed (its sockets closed) when
   * another is needed. Keep it well above the calls that run at once.
   * @default DEFAULT_MAX_CLIENTS
   */
  readonly maxClients?: number;
  /** Timeouts per service over the registry's defaults (deployment `callTimeouts`). @default {} */
  readonly timeouts?: Readonly<Record<string, CallTimeoutsConfig>>;
}

/** Timeouts of a service unknown to the registry (its calls fail before any client is made). */
const FALLBACK_TIMEOUTS: CallTimeouts = { connectionTimeoutMs: 3_000, requestTimeoutMs: 10_000 };

/**
 * Derives an idempotency token from the request's producer and id: the same request always sends
 * the same token, so a call re-run after a crash is recognised by the provider, and two
 * producers' requests with the same id never share one (EC2 allows 64 ASCII chars).
 */
export function idempotencyToken(producer: string, requestId: string): string {
  const key = requestKey(producer, requestId);
  return `sluice-${createHash('sha256').update(key).digest('hex').slice(0, 48)}`;
}

/** What a credentials provider is, as the SDK clients take it. */
type CredentialsProvider = ReturnType<typeof fromTemporaryCredentials>;

/**
 * Runs calls with cached clients.
 *
 * @example
 * const runner = new CallRunner({ targets: config.targets });
 * const output = await runner.run({ id: 'r1', target, call: { service: 'ec2', operation: 'DescribeVpcs', input: {} } });
 */
export class CallRunner {
  readonly #targets: ReadonlyMap<string, TargetConfig>;
  readonly #services: Readonly<Record<string, RunnableService>>;
  readonly #clientDefaults: Record<string, unknown>;
  readonly #credentialsFor: ((account: string) => unknown) | undefined;
  readonly #timeouts: Readonly<Record<string, CallTimeoutsConfig>>;
  readonly #ownAccountRoleArn: string | undefined;
  readonly #clients: LRUCache<string, SdkClient>;
  /** One provider per (account, producer) session: bounded by the configuration. */
  readonly #sessions = new Map<string, CredentialsProvider>();
  readonly #loaded = new Map<string, Promise<LoadedService>>();

  constructor(options: CallRunnerOptions) {
    this.#targets = new Map(options.targets.map((t) => [t.account, t]));
    this.#services = options.services ?? SERVICES;
    this.#clientDefaults = options.clientDefaults ?? {};
    this.#credentialsFor = options.credentialsFor;
    this.#timeouts = options.timeouts ?? {};
    this.#ownAccountRoleArn = options.ownAccountRoleArn;
    this.#clients = new LRUCache({
      max: options.maxClients ?? DEFAULT_MAX_CLIENTS,
      dispose: (client) => client.destroy(),
    });
  }

  /** SDK clients cached now. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** The timeouts of a service's calls: the deployment's, else the registry's. */
  timeoutsOf(serviceId: string): CallTimeouts {
    const defaults = this.#services[serviceId]?.callTimeouts ?? FALLBACK_TIMEOUTS;
    return { ...defaults, ...this.#timeouts[serviceId] };
  }

  /**
   * Whether running this call twice is harmless: a DryRun, read-only, protected by a token, or
   * idempotent by itself.
   */
  isSafeToRepeat(call: CallToRun['call']): boolean {
    const service = this.#services[call.service];
    if (service === undefined) return false;
    return (
      // A DryRun only checks the call, where the service takes one (EC2); elsewhere it runs.
      (service.takesDryRun === true && call.input.DryRun === true) ||
      service.isReadOnly(call.operation) ||
      call.operation in service.idempotencyTokens ||
      service.idempotentOperations.has(call.operation)
    );
  }

  /**
   * The operation that reads back whether this call took effect (./outcome-check.ts), or
   * `undefined` when the registry has no check for it or its input is beyond one.
   */
  outcomeCheckOf(call: CallToRun['call']): string | undefined {
    const check = this.#services[call.service]?.outcomeChecks?.[call.operation];
    if (check === undefined || check.input(call.input) === undefined) return undefined;
    return check.operation;
  }

  /**
   * Reads back whether the request's call took effect: runs the check's read as the producer
   * (same session, client and timeouts as the call). Throws what the SDK throws, or
   * `UnsupportedCallError` when the call has no check ({@link outcomeCheckOf}).
   */
  async readBack(request: CallToRun): Promise<CheckedEffect> {
    const check = this.#services[request.call.service]?.outcomeChecks?.[request.call.operation];
    const input = check?.input(request.call.input);
    if (check === undefined || input === undefined) {
      throw new UnsupportedCallError(
        'call.operation',
        `the outcome of ${request.call.service} ${request.call.operation} cannot be read back`,
      );
    }
    const call = { service: request.call.service, operation: check.operation, input };
    const output = await this.run({ ...request, call });
    return check.effect(request.call.input, output);
  }

  /**
   * Loads the SDK clients of these services now rather than on their first call: a service
   * client is a large module, and the first call's wait for it makes that call leave late.
   */
  async preload(serviceIds: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(serviceIds)].map((id) => this.#load(id)));
  }

  /** Checks the registry and the SDK know the call, before any tokens are spent on it. */
  async check(call: CallToRun['call']): Promise<void> {
    const loaded = await this.#load(call.service);
    if (loaded.command(call.operation) === undefined) {
      throw new UnsupportedCallError(
        'call.operation',
        `${call.service} has no operation ${call.operation}`,
      );
    }
  }

  /** Runs the call; returns its output without the SDK's `$metadata`. Throws what the SDK throws. */
  async run(request: CallToRun): Promise<Record<string, unknown>> {
    const { service: serviceId, operation } = request.call;
    const service = this.#services[serviceId];
    if (service === undefined)
      throw new UnsupportedCallError('call.service', `service ${serviceId} is not supported`);
    const loaded = await this.#load(serviceId);
    const Command = loaded.command(operation);
    if (Command === undefined)
      throw new UnsupportedCallError(
        'call.operation',
        `${serviceId} has no operation ${operation}`,
      );

    const input: Record<string, unknown> = { ...request.call.input };
    const tokenField = service.idempotencyTokens[operation];
    if (tokenField !== undefined) {
      // Always a token of the producer's own: one it set is folded into it, so no producer can
      // send another's token (or none, which would make a retry a second call).
      const own = input[tokenField];
      input[tokenField] =
        typeof own === 'string' && own !== ''
          ? idempotencyToken(request.producer, `${request.id}\ntoken:${own}`)
          : idempotencyToken(request.producer, request.id);
    }

    const client = this.#client(loaded, serviceId, request.producer, request.target);
    const { $metadata: _metadata, ...output } = (await client.send(new Command(input))) as Record<
      string,
      unknown
    >;
    // Through JSON once: Dates become ISO strings, so what is stored is what a reader gets.
    return JSON.parse(JSON.stringify(output)) as Record<string, unknown>;
  }

  /** Closes every cached client's sockets. */
  destroy(): void {
    this.#clients.clear();
  }

  #load(serviceId: string): Promise<LoadedService> {
    const service = this.#services[serviceId];
    if (service === undefined) {
      return Promise.reject(
        new UnsupportedCallError('call.service', `service ${serviceId} is not supported`),
      );
    }
    let loaded = this.#loaded.get(serviceId);
    if (loaded === undefined) {
      loaded = service.load();
      this.#loaded.set(serviceId, loaded);
    }
    return loaded;
  }

  #client(
    loaded: LoadedService,
    serviceId: string,
    producer: string,
    target: CallToRun['target'],
  ): SdkClient {
    const roleArn = this.#targets.get(target.account)?.roleArn ?? this.#ownAccountRoleArn;
    // Clients differ by producer only where the producer has a session of its own.
    const scope = roleArn === undefined ? target.account : `${target.account}|${producer}`;
    const key = `${scope}|${target.region}|${serviceId}`;
    let client = this.#clients.get(key);
    if (client === undefined) {
      const timeouts = this.timeoutsOf(serviceId);
      const config: Record<string, unknown> = {
        region: target.region,
        maxAttempts: 1,
        // requestTimeout bounds the whole call only with throwOnRequestTimeout (else it warns).
        requestHandler: {
          connectionTimeout: timeouts.connectionTimeoutMs,
          requestTimeout: timeouts.requestTimeoutMs,
          throwOnRequestTimeout: true,
        },
        ...this.#clientDefaults,
      };
      const own = this.#credentialsFor?.(target.account);
      if (own !== undefined) config.credentials = own;
      if (roleArn !== undefined) config.credentials = this.#session(roleArn, producer, target);
      client = loaded.createClient(config);
      this.#clients.set(key, client);
    }
    return client;
  }

  /**
   * The producer's session in the target's role: one per (account, producer), its credentials
   * cached and refreshed before they expire, shared by that session's clients of every region
   * and service.
   */
  #session(roleArn: string, producer: string, target: CallToRun['target']): CredentialsProvider {
    const key = `${target.account}|${producer}`;
    let session = this.#sessions.get(key);
    if (session === undefined) {
      const externalId = this.#targets.get(target.account)?.externalId;
      session = memoizeIdentityProvider(
        fromTemporaryCredentials({
          params: {
            RoleArn: roleArn,
            RoleSessionName: producerSessionName(producer),
            Tags: [{ Key: PRODUCER_SESSION_TAG, Value: producer }],
            ...(externalId === undefined ? {} : { ExternalId: externalId }),
          },
          // STS in the first region the session is used in; any region serves AssumeRole.
          clientConfig: { region: target.region },
        }),
        isIdentityExpired,
        doesIdentityRequireRefresh,
      ) as CredentialsProvider;
      this.#sessions.set(key, session);
    }
    return session;
  }
}
