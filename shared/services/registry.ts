/**
 * The services Sluice can call: one registry entry per service, read by the call runner (SDK
 * client, idempotency tokens, read-only rule), the limits catalog (buckets, default limits,
 * costs) and the CDK construct (IAM actions).
 *
 * Adding a service takes three steps:
 * 1. one new file here, `<service>.ts`, exporting a {@link ServiceDefinition}: its id (as in
 *    `call.service`), IAM action prefix, idempotency-token fields, read-only rule, a `load()`
 *    that `import()`s the client package, and its limit rules (a `ServiceLimits` table
 *    through `tableRules`, or a function of the operation and input like EC2's);
 * 2. its entry in `DEFINITIONS` below (one line, and its import);
 * 3. its `@aws-sdk/client-*` package in `dependencies`.
 *
 * Operators can give a service limits without an entry (`LimitsConfig.services`), but only a
 * service in this registry can be called: the dispatcher has no SDK client for any other.
 */
import { operationMatches } from '../contract/patterns.js';
import type { ServiceDefinition } from './definition.js';
import { EC2_DEFINITION } from './ec2.js';
import { SERVICE_QUOTAS_DEFINITION } from './service-quotas.js';

export type {
  CallTimeouts,
  CheckedEffect,
  CommandClass,
  LoadedService,
  OutcomeCheck,
  SdkClient,
  ServiceDefinition,
} from './definition.js';

/** Every service Sluice can call, one entry each. */
const DEFINITIONS: readonly ServiceDefinition[] = [EC2_DEFINITION, SERVICE_QUOTAS_DEFINITION];

/** The services Sluice can call, by id. */
export const SERVICES: Readonly<Record<string, ServiceDefinition>> = Object.freeze(
  Object.fromEntries(DEFINITIONS.map((definition) => [definition.id, definition])),
);

/** The IAM actions an allowlist entry grants (`Describe*` → `ec2:Describe*`). */
export function iamActionsFor(service: string, operations: readonly string[]): string[] {
  const definition = definitionOf(service);
  return operations.map((operation) => `${definition.iamPrefix}:${operation}`);
}

/**
 * The IAM actions that read back the outcome of the operations an allowlist entry grants
 * (`CreateTags` → `ec2:DescribeTags`): the dispatcher runs them, in the producer's session, only
 * when the answer of such a call was lost. Empty when no granted operation has a check.
 */
export function outcomeCheckActionsFor(service: string, operations: readonly string[]): string[] {
  const definition = definitionOf(service);
  const checks = Object.entries(definition.outcomeChecks ?? {});
  const actions = checks
    .filter(([checked]) => operations.some((pattern) => operationMatches(pattern, checked)))
    .map(([, check]) => `${definition.iamPrefix}:${check.operation}`);
  return [...new Set(actions)];
}

function definitionOf(service: string): ServiceDefinition {
  const definition = SERVICES[service];
  if (definition === undefined) {
    throw new Error(
      `service ${service} is not in the registry (known: ${Object.keys(SERVICES).join(', ')})`,
    );
  }
  return definition;
}
