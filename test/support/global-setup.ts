/**
 * vitest global setup: starts the DynamoDB engines once per run and hands their endpoints to the
 * test files (`enginesUnderTest()` from inject-engines.ts). dynalite always runs; DynamoDB Local
 * runs when Java is available, is required on CI, and is skipped loudly otherwise.
 */
import type { TestProject } from 'vitest/node';
import { type RunningEmulator, startDynalite } from '../../local/emulators/dynalite.js';
import { fetchDynamoDbLocal, javaAvailable, startDynamoDbLocal } from './dynamodb-local.js';
import type { Engine } from './engines.js';

declare module 'vitest' {
  export interface ProvidedContext {
    engines: Engine[];
  }
}

const SKIP_WARNING = [
  '',
  '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
  '!! WARNING: the DynamoDB Local conformance suite will be SKIPPED.',
  '!! `java -version` did not run: Java (17 or newer) is not on the PATH.',
  '!! Only dynalite runs, and dynalite does not implement',
  '!! ReturnValuesOnConditionCheckFailure, TransactWriteItems or UpdateTimeToLive.',
  '!! Install a JRE to run both engines (CI always does: there this is an error).',
  '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
  '',
].join('\n');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const running: RunningEmulator[] = [];
  const stopAll = async () => {
    await Promise.allSettled(running.map((emulator) => emulator.stop()));
  };

  try {
    const useDynamoDbLocal = javaAvailable();
    if (!useDynamoDbLocal) {
      if (process.env.CI) {
        throw new Error(
          'CI is set but Java is not available: the DynamoDB Local conformance suite must run on CI.',
        );
      }
      process.stderr.write(SKIP_WARNING);
    }

    // Start both, and wait for both even if one fails, so the catch below stops everything.
    const [dynalite, dynamoDbLocal] = await Promise.allSettled([
      startDynalite(),
      useDynamoDbLocal ? fetchDynamoDbLocal().then(() => startDynamoDbLocal()) : undefined,
    ]);
    for (const result of [dynalite, dynamoDbLocal]) {
      if (result.status === 'fulfilled' && result.value) running.push(result.value);
    }
    if (dynalite.status === 'rejected') throw dynalite.reason;
    if (dynamoDbLocal.status === 'rejected') throw dynamoDbLocal.reason;

    const engines: Engine[] = [{ name: 'dynalite', endpoint: dynalite.value.endpoint }];
    if (dynamoDbLocal.value) {
      engines.push({ name: 'dynamodb-local', endpoint: dynamoDbLocal.value.endpoint });
    }
    project.provide('engines', engines);
  } catch (error) {
    await stopAll();
    throw error;
  }

  return stopAll;
}
