/**
 * EC2 calls whose effect can be read back with `DescribeTags` (see `OutcomeCheck` in
 * ./definition.ts). Neither takes a `ClientToken`, so a lost answer is otherwise an unknown
 * outcome.
 *
 * - `CreateTags`: applied when every resource carries every tag with its value; absent when none
 *   of the resources carries any of the keys; unclear otherwise (a key with another value: this
 *   call may never have run, or run and been overwritten since).
 * - `DeleteTags`: applied when none of the tags named (or, with no tags named, no user tag) is
 *   left; otherwise unclear, since a tag still there may never have been deleted or been put back
 *   since. So a lost `DeleteTags` is confirmed or stays unknown; it is never sent twice.
 *
 * One page of `DescribeTags` (at most 1,000 tags) must hold every (resource, key) pair the check
 * looks for; a call touching more pairs than that is not checked, and an answer with a next page
 * is unclear. EC2's filter values are patterns (`*`, `?`, `\` escapes): a call whose resource ids
 * or keys hold one of those is not checked, so that a filter can only match its own names.
 */
import { isRecord } from '../util/objects.js';
import type { CheckedEffect, OutcomeCheck } from './definition.js';

/** `DescribeTags`'s largest page. */
const MAX_RESULTS = 1_000;
/** Values one `DescribeTags` filter takes at most. */
const MAX_FILTER_VALUES = 200;

interface TagFilter {
  readonly Key: string;
  /** `undefined`: any value (DeleteTags without a value). */
  readonly Value: string | undefined;
}

/** The call's resources and tags, or `undefined` when its input is not the documented shape. */
function resourcesAndTags(
  input: Readonly<Record<string, unknown>>,
): { resources: string[]; tags: TagFilter[] } | undefined {
  const { Resources, Tags } = input;
  if (!Array.isArray(Resources) || Resources.length === 0) return undefined;
  if (!Resources.every((r): r is string => typeof r === 'string')) return undefined;
  if (Tags !== undefined && !Array.isArray(Tags)) return undefined;
  const tags: TagFilter[] = [];
  for (const tag of Tags ?? []) {
    if (!isRecord(tag) || typeof tag.Key !== 'string') return undefined;
    if (tag.Value !== undefined && typeof tag.Value !== 'string') return undefined;
    tags.push({ Key: tag.Key, Value: tag.Value });
  }
  return { resources: [...new Set(Resources)], tags };
}

/**
 * The `DescribeTags` input that reads back a tagging call's resources (and keys), or `undefined`
 * when its input is not the documented shape, names no tag where one is required, or asks for
 * more than one page.
 */
function describeTagsInput(
  callInput: Readonly<Record<string, unknown>>,
  { tagsRequired }: { readonly tagsRequired: boolean },
): Record<string, unknown> | undefined {
  const call = resourcesAndTags(callInput);
  if (call === undefined || (tagsRequired && call.tags.length === 0)) return undefined;
  const { resources } = call;
  const keys = [...new Set(call.tags.map((t) => t.Key))];
  if ([...resources, ...keys].some((name) => /[*?\\]/.test(name))) return undefined;
  if (resources.length > MAX_FILTER_VALUES || keys.length > MAX_FILTER_VALUES) return undefined;
  // Without keys every tag of the resources is listed: up to 50 user tags each.
  const pairs = resources.length * (keys.length === 0 ? 50 : keys.length);
  if (pairs > MAX_RESULTS) return undefined;
  const Filters = [{ Name: 'resource-id', Values: [...resources] }];
  if (keys.length > 0) Filters.push({ Name: 'key', Values: keys });
  return { Filters, MaxResults: MAX_RESULTS };
}

/**
 * The tags `DescribeTags` answered, as `resource\nkey` → value; `undefined` when the answer has
 * another page (what it leaves out is unknown).
 */
function tagsOf(output: Readonly<Record<string, unknown>>): Map<string, string> | undefined {
  if (typeof output.NextToken === 'string' && output.NextToken !== '') return undefined;
  const found = new Map<string, string>();
  const tags = Array.isArray(output.Tags) ? output.Tags : [];
  for (const tag of tags) {
    if (!isRecord(tag) || typeof tag.ResourceId !== 'string' || typeof tag.Key !== 'string') {
      continue;
    }
    found.set(`${tag.ResourceId}\n${tag.Key}`, typeof tag.Value === 'string' ? tag.Value : '');
  }
  return found;
}

/** `CreateTags`: every resource has every tag, with the value asked for (`''` when none). */
const CREATE_TAGS: OutcomeCheck = {
  operation: 'DescribeTags',
  // CreateTags names at least one tag (EC2 requires it); DeleteTags may name none: all go.
  input: (callInput) => describeTagsInput(callInput, { tagsRequired: true }),
  effect: (callInput, output): CheckedEffect => {
    const call = resourcesAndTags(callInput);
    if (call === undefined) return 'unclear';
    const found = tagsOf(output);
    if (found === undefined) return 'unclear';
    const pairs = call.resources.flatMap((resource) =>
      call.tags.map((tag) => ({ value: found.get(`${resource}\n${tag.Key}`), tag })),
    );
    if (pairs.every(({ value, tag }) => value === (tag.Value ?? ''))) return 'applied';
    if (pairs.every(({ value }) => value === undefined)) return 'absent';
    return 'unclear';
  },
};

/**
 * `DeleteTags`: applied when no named tag is left (a tag named with a value: unless it still has
 * that value); with no tags named, when no user tag (keys not starting `aws:`) is left.
 */
const DELETE_TAGS: OutcomeCheck = {
  operation: 'DescribeTags',
  input: (callInput) => describeTagsInput(callInput, { tagsRequired: false }),
  effect: (callInput, output): CheckedEffect => {
    const call = resourcesAndTags(callInput);
    if (call === undefined) return 'unclear';
    const found = tagsOf(output);
    if (found === undefined) return 'unclear';
    const gone =
      call.tags.length === 0
        ? [...found.keys()].every((pair) => pair.split('\n')[1]?.startsWith('aws:'))
        : call.resources.every((resource) =>
            call.tags.every((tag) => {
              const value = found.get(`${resource}\n${tag.Key}`);
              return value === undefined || (tag.Value !== undefined && value !== tag.Value);
            }),
          );
    return gone ? 'applied' : 'unclear';
  },
};

/** EC2's outcome checks, by operation. */
export const EC2_OUTCOME_CHECKS: Readonly<Record<string, OutcomeCheck>> = Object.freeze({
  CreateTags: CREATE_TAGS,
  DeleteTags: DELETE_TAGS,
});
