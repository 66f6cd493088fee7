/**
 * Creates a table from its layout and waits until it is ACTIVE: the local runtime and the tests
 * build their tables with this (DynamoDB Local takes a moment; dynalite is immediate).
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, type TableLayout } from '../../shared/storage/tables.js';

const ACTIVE_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

/** Creates `name` from `layout`; waits (at most 30 s) until it is ACTIVE; returns the name. */
export async function createTableAndWait(
  client: Pick<DynamoDBClient, 'send'>,
  layout: TableLayout,
  name: string,
): Promise<string> {
  const created = await client.send(new CreateTableCommand(createTableInput(layout, name)));
  if (created.TableDescription?.TableStatus === 'ACTIVE') return name;
  const deadline = Date.now() + ACTIVE_TIMEOUT_MS;
  let status: string | undefined;
  while (Date.now() < deadline) {
    const described = await client.send(new DescribeTableCommand({ TableName: name }));
    status = described.Table?.TableStatus;
    if (status === 'ACTIVE') return name;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(
    `table ${name} not ACTIVE after ${ACTIVE_TIMEOUT_MS} ms (last status: ${status ?? 'unknown'})`,
  );
}
