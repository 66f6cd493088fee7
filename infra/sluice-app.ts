/**
 * Builds the Sluice app: the coordinator stack, one member-role stack per target account that
 * is reached through a role, and the cdk-nag checks. `infra/app.ts` runs it for the CDK CLI; the
 * tests build the same app in memory.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Annotations, type App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { type DeploymentConfigInput, parseDeploymentConfig } from '../shared/config/deployment.js';
import type { ThrottleCoordinatorProps } from './coordinator-props.js';
import { SluiceMemberRoleStack } from './member-role.js';
import { SluiceStack } from './sluice-stack.js';
import { producersIn } from './target-role.js';

/** Id (and CloudFormation name) of the coordinator stack. */
export const COORDINATOR_STACK_ID = 'Sluice';

/** Id of the member-role stack of an account; its template is `cdk.out/<id>.template.json`. */
export function memberStackId(account: string): string {
  return `SluiceMemberRole-${account}`;
}

/** The config file used when `--context configFile=…` is not given. */
export const DEFAULT_CONFIG_FILE = 'infra/sluice.config.json';

/** A config file could not be read or is not JSON. */
export class ConfigFileError extends Error {
  constructor(path: string, cause: unknown) {
    super(`cannot read the Sluice config file ${path}: ${(cause as Error).message}`, { cause });
    this.name = 'ConfigFileError';
  }
}

/** Reads a deployment config file (JSON). Validation is the construct's job. */
export function readConfigFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(resolve(path), 'utf8')) as unknown;
  } catch (error) {
    throw new ConfigFileError(path, error);
  }
}

/** What the app is built from. */
export interface SluiceAppOptions {
  /** The deployment configuration. */
  readonly config: DeploymentConfigInput;
  /** Coordinator props besides `config`. @default {} */
  readonly coordinator?: Omit<ThrottleCoordinatorProps, 'config'>;
  /** Environment of the coordinator stack. @default - environment-agnostic */
  readonly env?: Environment;
  /** An existing SNS topic for the alarms. @default - no notifications */
  readonly alarmTopicArn?: string;
  /** Run the AwsSolutions and Serverless cdk-nag packs on the app. @default true */
  readonly nag?: boolean;
}

/** The stacks of the app. */
export interface SluiceAppStacks {
  readonly coordinator: SluiceStack;
  readonly members: readonly SluiceMemberRoleStack[];
}

/**
 * Adds the Sluice stacks (and the cdk-nag checks) to `app`.
 *
 * @example
 * const app = new App();
 * buildSluiceApp(app, { config: readConfigFile('infra/sluice.config.json') as DeploymentConfigInput });
 */
export function buildSluiceApp(app: App, options: SluiceAppOptions): SluiceAppStacks {
  const coordinator = new SluiceStack(app, COORDINATOR_STACK_ID, {
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.alarmTopicArn !== undefined ? { alarmTopicArn: options.alarmTopicArn } : {}),
    coordinator: { ...options.coordinator, config: options.config },
  });
  // The coordinator validated the config (and threw listing every problem if it was wrong).
  const config = parseDeploymentConfig(options.config);
  const members: SluiceMemberRoleStack[] = [];
  for (const target of config.targets) {
    if (target.roleArn === undefined) continue;
    if (target.externalId === undefined) {
      Annotations.of(coordinator).addWarningV2(
        'sluice:member-role-without-external-id',
        `target ${target.account} has a roleArn but no externalId: no member-role template is synthesized for it; add an externalId (confused-deputy protection) or write the role's trust policy yourself`,
      );
      continue;
    }
    if (producersIn(config.producers, target.account).length === 0) {
      Annotations.of(coordinator).addWarningV2(
        'sluice:member-role-without-producers',
        `target ${target.account} is allowed to no producer: no member-role template is synthesized for it`,
      );
      continue;
    }
    members.push(
      new SluiceMemberRoleStack(app, memberStackId(target.account), {
        target,
        producers: config.producers,
      }),
    );
  }
  if (options.nag ?? true) {
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  }
  return { coordinator, members };
}
