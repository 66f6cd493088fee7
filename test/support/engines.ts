/**
 * The DynamoDB engines the tests and benchmarks run against, and client/table helpers for them.
 * No vitest import here (benchmarks use it too); the vitest side is in inject-engines.ts.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, type TableLayout } from '../../shared/storage/tables.js';

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
export {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localDynamoClient as dynamoClient,
} from '../../shared/local/dynalite.js';

/** A table name unique to this call: `<prefix>-<base36 time>-<random hex>` (prefix: [A-Za-z0-9_.-]). */
export function uniqueTableName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

const TABLE_ACTIVE_TIMEOUT_MS = 30_000;
const TABLE_POLL_MS = 50;

/** Creates a table from a layout and waits (at most 30 s) until it is ACTIVE. Returns its name. */
export async function createTable(
  client: DynamoDBClient,
  layout: TableLayout,
  name: string,
): Promise<string> {
  const created = await client.send(new CreateTableCommand(createTableInput(layout, name)));
  if (created.TableDescription?.TableStatus === 'ACTIVE') return name;

  const deadline = Date.now() + TABLE_ACTIVE_TIMEOUT_MS;
  let status: string | undefined;
  while (Date.now() < deadline) {
    const described = await client.send(new DescribeTableCommand({ TableName: name }));
    status = described.Table?.TableStatus;
    if (status === 'ACTIVE') return name;
    await new Promise((resolve) => setTimeout(resolve, TABLE_POLL_MS));
  }
  throw new Error(
    `Table ${name} not ACTIVE after ${TABLE_ACTIVE_TIMEOUT_MS} ms (last status: ${status ?? 'unknown'})`,
  );
}
