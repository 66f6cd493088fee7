/**
 * EC2's outcome checks (DescribeTags) as pure functions: the read each call asks for, and what
 * it shows — for CreateTags applied (every tag with its value on every resource), absent (no
 * trace of its keys) or unclear; for DeleteTags applied (none of the named tags left, or no user
 * tag when none is named) or unclear, never absent.
 */
import { describe, expect, it } from 'vitest';
import { EC2_OUTCOME_CHECKS } from '../../../shared/services/ec2-outcome-checks.js';

const create = EC2_OUTCOME_CHECKS.CreateTags;
const remove = EC2_OUTCOME_CHECKS.DeleteTags;
if (create === undefined || remove === undefined) throw new Error('EC2 checks are missing');

const tag = (ResourceId: string, Key: string, Value: string) => ({ ResourceId, Key, Value });

describe('CreateTags read back', () => {
  const input = {
    Resources: ['i-1', 'i-2'],
    Tags: [{ Key: 'team', Value: 'web' }, { Key: 'empty' }],
  };

  it('reads the tags of its resources and keys, in one page', () => {
    expect(create.input(input)).toEqual({
      Filters: [
        { Name: 'resource-id', Values: ['i-1', 'i-2'] },
        { Name: 'key', Values: ['team', 'empty'] },
      ],
      MaxResults: 1_000,
    });
  });

  it('is applied only when every resource has every tag with its value ("" when none)', () => {
    const all = [
      tag('i-1', 'team', 'web'),
      tag('i-1', 'empty', ''),
      tag('i-2', 'team', 'web'),
      tag('i-2', 'empty', ''),
    ];
    expect(create.effect(input, { Tags: all })).toBe('applied');
    expect(create.effect(input, { Tags: all.slice(0, 3) })).toBe('unclear');
  });

  it('is absent only when no resource has any of its keys', () => {
    expect(create.effect(input, { Tags: [] })).toBe('absent');
    expect(create.effect(input, {})).toBe('absent');
    expect(create.effect(input, { Tags: [tag('i-1', 'other', 'x')] })).toBe('absent');
  });

  it('is unclear when a key has another value: never ran, or overwritten since', () => {
    expect(create.effect(input, { Tags: [tag('i-2', 'team', 'api')] })).toBe('unclear');
  });

  it('asks for no read when a resource id or key holds a filter pattern character', () => {
    expect(create.input({ Resources: ['i-1'], Tags: [{ Key: 'a*', Value: 'v' }] })).toBeUndefined();
    expect(create.input({ Resources: ['i-?'], Tags: [{ Key: 'a', Value: 'v' }] })).toBeUndefined();
    expect(
      create.input({ Resources: ['i-1'], Tags: [{ Key: 'a\\b', Value: 'v' }] }),
    ).toBeUndefined();
  });

  it('is unclear when the answer has another page', () => {
    expect(create.effect(input, { Tags: [], NextToken: 'more' })).toBe('unclear');
    expect(remove.effect({ Resources: ['i-1'] }, { Tags: [], NextToken: 'more' })).toBe('unclear');
  });

  it('asks for no read for an input it cannot check', () => {
    expect(create.input({ Resources: ['i-1'] })).toBeUndefined();
    expect(create.input({ Resources: [], Tags: [{ Key: 'a' }] })).toBeUndefined();
    expect(create.input({ Resources: ['i-1'], Tags: [{ Value: 'no key' }] })).toBeUndefined();
  });
});

describe('DeleteTags read back', () => {
  it('is applied when no named tag is left, or only with another value than the one named', () => {
    const input = { Resources: ['i-1'], Tags: [{ Key: 'team' }, { Key: 'env', Value: 'dev' }] };
    expect(remove.effect(input, { Tags: [] })).toBe('applied');
    expect(remove.effect(input, { Tags: [tag('i-1', 'env', 'prod')] })).toBe('applied');
  });

  it('is never absent: a tag still there may have been put back since', () => {
    const input = { Resources: ['i-1'], Tags: [{ Key: 'team' }, { Key: 'env', Value: 'dev' }] };
    expect(remove.effect(input, { Tags: [tag('i-1', 'env', 'dev')] })).toBe('unclear');
    expect(remove.effect(input, { Tags: [tag('i-1', 'team', 'any')] })).toBe('unclear');
  });

  it('with no tags named, is applied when only aws: tags are left', () => {
    const input = { Resources: ['i-1'] };
    expect(remove.input(input)).toEqual({
      Filters: [{ Name: 'resource-id', Values: ['i-1'] }],
      MaxResults: 1_000,
    });
    const stackTag = tag('i-1', 'aws:cloudformation:stack-name', 's');
    expect(remove.effect(input, { Tags: [stackTag] })).toBe('applied');
    expect(remove.effect(input, { Tags: [tag('i-1', 'team', 'web')] })).toBe('unclear');
  });
});
