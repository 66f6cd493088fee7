/**
 * The outputs bucket: where the dispatcher puts call outputs too large for a result record
 * (over 192 KiB; the result points to the object). One object per request attempt under
 * `outputs/<producer>/`; the dispatcher may only put there, a producer's result readers only get
 * under its own prefix (ThrottleCoordinator.grantReadResults).
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/**
 * A private bucket (all public access blocked, objects owned by the bucket's account, no ACLs),
 * encrypted (SSE-S3: no key policy for readers to be granted), TLS 1.2+ only, whose objects
 * expire after `resultTtlDays` — an output lives as long as the record that points to it.
 * Retained with the stack's tables: the requests table points into it.
 */
export function createOutputsBucket(scope: Construct, id: string, resultTtlDays: number): Bucket {
  const bucket = new Bucket(scope, id, {
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [
      {
        id: 'expire-with-results',
        expiration: Duration.days(resultTtlDays),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
    ],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason:
      'Outputs are written only by the dispatcher and read only by roles granted ' +
      'grantReadResults; access is audited with CloudTrail (S3 data events) where the account ' +
      'enables them. A log bucket of its own would need its own logging, and would keep call ' +
      'outputs longer than the results they belong to.',
  });
  return bucket;
}
