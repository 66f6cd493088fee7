/**
 * S3 on the local stack: fauxqs, the SQS emulator, also speaks S3 on the same endpoint. It holds
 * the outputs bucket (outputs too large for a result record). Its endpoint is an IP address, so
 * clients address buckets in the path (`forcePathStyle`), not in the host name.
 */
import { CreateBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './credentials.js';

/** An S3 client for the local emulator: dummy credentials, us-east-1, path-style addressing. */
export function s3Client(endpoint: string, overrides: S3ClientConfig = {}): S3Client {
  return new S3Client({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint,
    forcePathStyle: true,
    ...overrides,
  });
}

/** Creates a bucket (idempotent for its owner, as S3's CreateBucket is in us-east-1). */
export async function createBucket(client: Pick<S3Client, 'send'>, name: string): Promise<string> {
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}
