/**
 * Smoke test of the engine harness: each engine started by the global setup takes a table with the
 * buckets layout, rejects a failed conditional write the way the SDK documents, and behaves as
 * ENGINE_CAPABILITIES says where the engines differ (so an engine upgrade that changes this fails).
 */
import {
  ConditionalCheckFailedException,
  DeleteTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUCKETS_TABLE } from '../../shared/storage/tables.js';
import {
  createTable,
  dynamoClient,
  ENGINE_CAPABILITIES,
  uniqueTableName,
} from '../support/engines.js';
import { enginesUnderTest } from '../support/inject-engines.js';

const engines = enginesUnderTest();
const PK = BUCKETS_TABLE.partitionKey;
const TAT = BUCKETS_TABLE.attributes.tat;

describe('engines under test', () => {
  it('always include dynalite, and DynamoDB Local on CI', () => {
    const names = engines.map((engine) => engine.name);
    expect(names).toContain('dynalite');
    if (process.env.CI) expect(names).toContain('dynamodb-local');
  });
});

describe.each(engines)('$name', (engine) => {
  const capabilities = ENGINE_CAPABILITIES[engine.name];
  let client: DynamoDBClient;
  let table: string;

  beforeAll(async () => {
    client = dynamoClient(engine.endpoint);
    table = await createTable(client, BUCKETS_TABLE, uniqueTableName('engines-smoke'));
  });

  afterAll(async () => {
    await client?.send(new DeleteTableCommand({ TableName: table }));
    client?.destroy();
  });

  const putBucket = (key: string, tat: number) =>
    client.send(
      new PutItemCommand({
        TableName: table,
        Item: { [PK]: { S: key }, [TAT]: { N: String(tat) } },
      }),
    );

  /** A compare-and-set of `tat` whose expected value is wrong, so its condition fails. */
  const staleUpdate = (key: string, actualTat: number, returnOld: boolean) =>
    new UpdateItemCommand({
      TableName: table,
      Key: { [PK]: { S: key } },
      UpdateExpression: 'SET #tat = :next',
      ConditionExpression: '#tat = :expected',
      ExpressionAttributeNames: { '#tat': TAT },
      ExpressionAttributeValues: {
        ':expected': { N: String(actualTat - 1) },
        ':next': { N: String(actualTat + 1) },
      },
      ...(returnOld ? { ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } : {}),
    });

  async function conditionFailure(command: UpdateItemCommand) {
    const error = await client.send(command).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ConditionalCheckFailedException);
    return error as ConditionalCheckFailedException;
  }

  it('rejects a failed conditional update with ConditionalCheckFailedException', async () => {
    await putBucket('smoke#condition', 100);
    const error = await conditionFailure(staleUpdate('smoke#condition', 100, false));
    expect(error.name).toBe('ConditionalCheckFailedException');
    expect(error.Item).toBeUndefined();

    const after = await client.send(
      new GetItemCommand({ TableName: table, Key: { [PK]: { S: 'smoke#condition' } } }),
    );
    expect(after.Item?.[TAT]).toEqual({ N: '100' });
  });

  it(`returnsOldItemOnConditionFailure is ${capabilities.returnsOldItemOnConditionFailure}`, async () => {
    await putBucket('smoke#all-old', 200);
    const error = await conditionFailure(staleUpdate('smoke#all-old', 200, true));
    if (capabilities.returnsOldItemOnConditionFailure) {
      expect(error.Item).toEqual({ [PK]: { S: 'smoke#all-old' }, [TAT]: { N: '200' } });
    } else {
      expect(error.Item).toBeUndefined();
    }
  });

  it(`transactions is ${capabilities.transactions}`, async () => {
    const write = client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: { [PK]: { S: 'smoke#tx' }, [TAT]: { N: '1' } } } },
        ],
      }),
    );
    if (capabilities.transactions) {
      await write;
      const after = await client.send(
        new GetItemCommand({ TableName: table, Key: { [PK]: { S: 'smoke#tx' } } }),
      );
      expect(after.Item?.[TAT]).toEqual({ N: '1' });
    } else {
      await expect(write).rejects.toMatchObject({ name: 'UnknownOperationException' });
    }
  });
});
