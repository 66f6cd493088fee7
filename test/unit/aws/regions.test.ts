/**
 * Sluice's list of regions against the AWS SDK's own partition data: a region the SDK knows and
 * the list does not fails here, so an SDK upgrade that brings a region asks for the list to grow.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KNOWN_REGIONS, PARTITION_REGIONS } from '../../../shared/aws/regions.js';
import { REGION_PATTERN } from '../../../shared/contract/patterns.js';

interface PartitionsInfo {
  readonly partitions: readonly {
    readonly id: string;
    readonly regions: Readonly<Record<string, unknown>>;
  }[];
}

async function sdkPartitions(): Promise<PartitionsInfo> {
  // Not a public export of @aws-sdk/core: the file the SDK resolves endpoints from, by its path.
  const root = dirname(createRequire(import.meta.url).resolve('@aws-sdk/core/package.json'));
  const file = join(root, 'dist-es/submodules/client/util-endpoints/lib/aws/partitions.js');
  const { partitionsInfo } = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as {
    partitionsInfo: PartitionsInfo;
  };
  return partitionsInfo;
}

describe('known regions', () => {
  it("holds every region of the SDK's partitions, by partition", async () => {
    for (const partition of (await sdkPartitions()).partitions) {
      const regions = Object.keys(partition.regions).filter((r) => !r.endsWith('-global'));
      expect(PARTITION_REGIONS[partition.id]).toEqual(expect.arrayContaining(regions));
    }
  });

  it('are all region names the contract accepts; made-up ones are not among them', () => {
    for (const region of KNOWN_REGIONS) expect(region).toMatch(REGION_PATTERN);
    expect(KNOWN_REGIONS.has('zz-fake-99')).toBe(false);
    expect(REGION_PATTERN.test('zz-fake-99')).toBe(true);
  });
});
