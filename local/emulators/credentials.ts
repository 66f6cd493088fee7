/**
 * Credentials and region of every client of the local stack, in one place.
 *
 * The emulators accept any non-empty key. DynamoDB Local (without -sharedDb) keeps one database
 * per access key and region, so every client of the tables uses the same pair to see the same
 * tables. Target calls are different: the provider simulator treats the access key as the
 * caller's account, so each target account's calls are signed with its own key and spend their
 * own provider buckets, as at AWS.
 */

/** Credentials of the local stack's clients of DynamoDB and SQS. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** Region of every local client; fauxqs takes the region from the request signature. */
export const LOCAL_REGION = 'us-east-1';

/** Credentials that make the provider simulator see `account` as the caller. */
export function accountCredentials(account: string): {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
} {
  return { accessKeyId: account, secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey };
}
