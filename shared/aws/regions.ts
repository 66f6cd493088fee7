/**
 * The AWS regions Sluice knows, by partition: the regions a target may name when the deployment
 * lists none, and the only ones the dispatcher builds clients, bucket items and metric
 * dimensions for. The request contract's pattern alone accepts any well-formed string
 * (`zz-fake-99`), and every new string would cost a cached SDK client and new table items.
 *
 * Copied from the AWS SDK's partition data (`@aws-sdk/core`, util-endpoints `partitions`), without
 * its `*-global` pseudo-regions; test/unit/aws/regions.test.ts fails when the SDK knows a region
 * this list does not. A region newer than both goes in the deployment's `extraRegions`.
 */

/** Regions of each AWS partition. */
export const PARTITION_REGIONS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  aws: [
    'af-south-1',
    'ap-east-1',
    'ap-east-2',
    'ap-northeast-1',
    'ap-northeast-2',
    'ap-northeast-3',
    'ap-south-1',
    'ap-south-2',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-southeast-3',
    'ap-southeast-4',
    'ap-southeast-5',
    'ap-southeast-6',
    'ap-southeast-7',
    'ca-central-1',
    'ca-west-1',
    'eu-central-1',
    'eu-central-2',
    'eu-north-1',
    'eu-south-1',
    'eu-south-2',
    'eu-west-1',
    'eu-west-2',
    'eu-west-3',
    'il-central-1',
    'me-central-1',
    'me-south-1',
    'me-west-1',
    'mx-central-1',
    'sa-east-1',
    'sa-west-1',
    'us-east-1',
    'us-east-2',
    'us-west-1',
    'us-west-2',
  ],
  'aws-cn': ['cn-north-1', 'cn-northwest-1'],
  'aws-eusc': ['eusc-de-east-1'],
  'aws-iso': ['us-iso-east-1', 'us-iso-west-1'],
  'aws-iso-b': ['us-isob-east-1', 'us-isob-west-1'],
  'aws-iso-e': ['eu-isoe-west-1'],
  'aws-iso-f': ['us-isof-east-1', 'us-isof-south-1'],
  'aws-us-gov': ['us-gov-east-1', 'us-gov-west-1'],
});

/** Every region of {@link PARTITION_REGIONS}. */
export const KNOWN_REGIONS: ReadonlySet<string> = new Set(Object.values(PARTITION_REGIONS).flat());
