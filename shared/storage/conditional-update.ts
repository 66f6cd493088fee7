/**
 * A conditional `UpdateItem` whose failed condition is an answer, not an error: the stores of the
 * requests and reads tables ask "did it hold?" of many writes. The failure is recognised by class
 * (`ConditionalCheckFailedException`); every other error of the client propagates unchanged.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';

/** What an update changes, with the names and values its expressions use. */
export type UpdateParts = Required<
  Pick<
    UpdateItemCommandInput,
    'UpdateExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
  >
>;

/** Sends the update; true when it was applied, false when its condition did not hold. */
export async function updateIf(
  client: Pick<DynamoDBClient, 'send'>,
  input: UpdateItemCommandInput,
): Promise<boolean> {
  try {
    await client.send(new UpdateItemCommand(input));
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
