/**
 * The services Sluice can call: one registry entry per service. Adding a service is one entry
 * here plus its `@aws-sdk/client-*` package. Client modules are loaded on first use, so a cold
 * start pays only for the services its batch needs.
 */

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

/** One service of the registry. */
export interface ServiceDefinition {
  /** Service id used in requests (`call.service`). */
  readonly id: string;
  /** IAM action prefix (`ec2:RunInstances`, `servicequotas:ListServiceQuotas`). */
  readonly iamPrefix: string;
  /**
   * Operations that take an idempotency token, and the input field holding it. The dispatcher
   * derives the token from the request `id`, so a call re-run after a crash is the same call to
   * the provider (EC2 `ClientToken`: "Ensuring idempotency" in the EC2 API guide).
   */
  readonly idempotencyTokens: Readonly<Record<string, string>>;
  /** Operations that change nothing, so running them twice is harmless. */
  isReadOnly(operation: string): boolean;
  load(): Promise<LoadedService>;
}

/** Operations whose name says they only read (the EC2 and Service Quotas naming conventions). */
const READ_ONLY_PREFIXES = ['Describe', 'List', 'Get', 'Search'];

function readOnlyByName(operation: string): boolean {
  return READ_ONLY_PREFIXES.some((prefix) => operation.startsWith(prefix));
}

function fromModule(module: Record<string, unknown>, clientName: string): LoadedService {
  const ClientClass = module[clientName] as new (config: Record<string, unknown>) => SdkClient;
  return {
    createClient: (config) => new ClientClass(config),
    command: (operation) => {
      const candidate = module[`${operation}Command`];
      return typeof candidate === 'function' ? (candidate as CommandClass) : undefined;
    },
  };
}

/** The built-in services. */
export const SERVICES: Readonly<Record<string, ServiceDefinition>> = Object.freeze({
  ec2: {
    id: 'ec2',
    iamPrefix: 'ec2',
    idempotencyTokens: Object.freeze({
      RunInstances: 'ClientToken',
      StartInstances: 'ClientToken',
      CreateFleet: 'ClientToken',
      CreateLaunchTemplate: 'ClientToken',
      CreateLaunchTemplateVersion: 'ClientToken',
      CreateNatGateway: 'ClientToken',
      CreateVpcEndpoint: 'ClientToken',
      CreateVolume: 'ClientToken',
      CopyImage: 'ClientToken',
      CreateCapacityReservation: 'ClientToken',
      AllocateHosts: 'ClientToken',
      RequestSpotInstances: 'ClientToken',
      CreateFlowLogs: 'ClientToken',
    }),
    isReadOnly: readOnlyByName,
    load: async () => fromModule(await import('@aws-sdk/client-ec2'), 'EC2Client'),
  },
  'service-quotas': {
    id: 'service-quotas',
    iamPrefix: 'servicequotas',
    idempotencyTokens: Object.freeze({}),
    isReadOnly: readOnlyByName,
    load: async () =>
      fromModule(await import('@aws-sdk/client-service-quotas'), 'ServiceQuotasClient'),
  },
} satisfies Record<string, ServiceDefinition>);

/** The IAM actions an allowlist entry grants (`Describe*` → `ec2:Describe*`). */
export function iamActionsFor(service: string, operations: readonly string[]): string[] {
  const definition = SERVICES[service];
  if (definition === undefined) {
    throw new Error(
      `service ${service} is not in the registry (known: ${Object.keys(SERVICES).join(', ')})`,
    );
  }
  return operations.map((operation) => `${definition.iamPrefix}:${operation}`);
}
