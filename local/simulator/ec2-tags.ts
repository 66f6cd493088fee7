/**
 * Tags in the simulated EC2, as DescribeTags lists them: one row per (resource, key), EC2's
 * DescribeTags filters, the answer's XML, and DeleteTags' rule for which tags go.
 */
import { esc, stringList } from './ec2-protocol.js';
import { ProviderError } from './errors.js';

/** One tag of one resource, as DescribeTags lists it. */
export interface TagRow {
  readonly resourceId: string;
  readonly resourceType: string;
  readonly key: string;
  readonly value: string;
}

/** DescribeTags' filters and the field each compares. */
const TAG_FILTER_FIELDS: Readonly<Record<string, keyof TagRow>> = {
  'resource-id': 'resourceId',
  'resource-type': 'resourceType',
  key: 'key',
  value: 'value',
};

/** Resource types by id prefix, as EC2 names them; other ids are listed as `resource`. */
const RESOURCE_TYPES: readonly [string, string][] = [
  ['i-', 'instance'],
  ['vol-', 'volume'],
  ['snap-', 'snapshot'],
  ['ami-', 'image'],
  ['sg-', 'security-group'],
  ['subnet-', 'subnet'],
  ['vpc-', 'vpc'],
];

export function tagRows(resourceId: string, tags: ReadonlyMap<string, string>): TagRow[] {
  const resourceType = RESOURCE_TYPES.find(([prefix]) => resourceId.startsWith(prefix))?.[1];
  return [...tags].map(([key, value]) => ({
    resourceId,
    resourceType: resourceType ?? 'resource',
    key,
    value,
  }));
}

/**
 * DeleteTags' change: a tag named with a value goes only if it has that value; named without
 * one, it goes whatever its value; with no tags named (`named` 0), every user tag goes.
 */
export function deleteTag(named: number) {
  return (tags: Map<string, string>, [key, value]: [string, string | undefined]): void => {
    if (named === 0) {
      for (const k of [...tags.keys()]) if (!k.startsWith('aws:')) tags.delete(k);
      return;
    }
    if (value === undefined || tags.get(key) === value) tags.delete(key);
  };
}

/**
 * The rows every filter matches (`resource-id`, `resource-type`, `key`, `value`; each filter's
 * values are alternatives). @throws {ProviderError} `InvalidParameterValue` for another filter.
 */
export function filterTags(
  rows: readonly TagRow[],
  filters: readonly Record<string, unknown>[],
): TagRow[] {
  let selected = [...rows];
  for (const filter of filters) {
    const values = new Set(stringList(filter.Value));
    const field = TAG_FILTER_FIELDS[typeof filter.Name === 'string' ? filter.Name : ''];
    if (field === undefined) {
      throw new ProviderError(
        'InvalidParameterValue',
        `The filter '${String(filter.Name)}' is invalid`,
      );
    }
    selected = selected.filter((row) => values.has(row[field]));
  }
  return selected;
}

/** DescribeTags' `tagSet`. */
export function tagSetXml(rows: readonly TagRow[]): string {
  const items = rows.map(
    (row) =>
      `<item><resourceId>${esc(row.resourceId)}</resourceId>` +
      `<resourceType>${esc(row.resourceType)}</resourceType>` +
      `<key>${esc(row.key)}</key><value>${esc(row.value)}</value></item>`,
  );
  return `<tagSet>${items.join('')}</tagSet>`;
}
