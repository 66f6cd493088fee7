/**
 * The DynamoDB engines the tests and benchmarks run against, and client/table helpers for them.
 * No vitest import here (benchmarks use it too); the vitest side is in inject-engines.ts.
 */
import { randomBytes } from 'node:crypto';

export type EngineName = 'dynalite' | 'dynamodb-local';

/** A running engine. Plain data: vitest passes it from the global setup to the test workers. */
export type Engine = { name: EngineName; endpoint: string };

export interface EngineCapabilities {
  /** Honours `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'` (the old item on the error's `Item`). */
  readonly returnsOldItemOnConditionFailure: boolean;
  /** Implements TransactWriteItems / TransactGetItems. */
  readonly transactions: boolean;
}

/**
 * What each engine implements, where they differ. test/integration/engines.test.ts checks this
 * against the real engines, so it fails if an engine upgrade changes the behaviour.
 */
export const ENGINE_CAPABILITIES = {
  dynalite: { returnsOldItemOnConditionFailure: false, transactions: false },
  'dynamodb-local': { returnsOldItemOnConditionFailure: true, transactions: true },
} as const satisfies Record<EngineName, EngineCapabilities>;

/** Local clients: one definition, shared with the local runtime. */
export { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/emulators/credentials.js';
export { localDynamoClient as dynamoClient } from '../../local/emulators/dynalite.js';

/** A table name unique to this call: `<prefix>-<base36 time>-<random hex>` (prefix: [A-Za-z0-9_.-]). */
export function uniqueTableName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Creates a table from a layout and waits until it is ACTIVE (the runtime's own helper). */
export { createTableAndWait as createTable } from '../../local/emulators/create-table.js';
