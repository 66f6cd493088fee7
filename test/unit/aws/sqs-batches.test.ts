import { describe, expect, it } from 'vitest';
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_ENTRIES,
  messageBytes,
  stringAttributes,
  toSqsBatches,
} from '../../../shared/aws/sqs-batches.js';

interface Message {
  readonly name: string;
  readonly queueUrl: string;
  readonly bytes: number;
}

function messages(count: number, bytes: number, queueUrl = 'q-a'): Message[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${queueUrl}-${i}`, queueUrl, bytes }));
}

function names(batches: ReturnType<typeof toSqsBatches<Message>>): string[][] {
  return batches.map((batch) => batch.entries.map((m) => m.name));
}

describe('messageBytes', () => {
  it('counts the body in UTF-8 bytes', () => {
    expect(messageBytes('abc')).toBe(3);
    expect(messageBytes('é€😀')).toBe(2 + 3 + 4);
  });

  it("adds each attribute's name, data type and value, as SQS counts them", () => {
    const attributes = stringAttributes({ 'sluice-run-at': '1767225600000' });
    // body 2 + name 13 + "String" 6 + value 13
    expect(messageBytes('{}', attributes)).toBe(2 + 13 + 6 + 13);
    const binary = { blob: { DataType: 'Binary.gz', BinaryValue: new Uint8Array(5) } };
    expect(messageBytes('', binary)).toBe(4 + 9 + 5);
  });
});

describe('stringAttributes', () => {
  it('makes String attributes, and none at all for an empty map', () => {
    expect(stringAttributes({ reason: 'x' })).toEqual({
      reason: { DataType: 'String', StringValue: 'x' },
    });
    expect(stringAttributes({})).toBeUndefined();
    expect(stringAttributes(undefined)).toBeUndefined();
  });
});

describe('toSqsBatches', () => {
  it('cuts batches at 10 entries, keeping input order', () => {
    const batches = toSqsBatches(messages(25, 100), (m) => m);
    expect(batches.map((b) => b.entries.length)).toEqual([MAX_BATCH_ENTRIES, 10, 5]);
    expect(names(batches).flat()).toEqual(messages(25, 100).map((m) => m.name));
  });

  it('puts each queue in batches of its own, queues in order of first appearance', () => {
    const mixed = [
      ...messages(2, 10, 'q-b').slice(0, 1),
      ...messages(3, 10, 'q-a'),
      ...messages(2, 10, 'q-b').slice(1),
    ];
    const batches = toSqsBatches(mixed, (m) => m);
    expect(batches.map((b) => b.queueUrl)).toEqual(['q-b', 'q-a']);
    expect(names(batches)).toEqual([
      ['q-b-0', 'q-b-1'],
      ['q-a-0', 'q-a-1', 'q-a-2'],
    ]);
  });

  it('fills a batch to exactly 1 MiB and starts the next one a byte later', () => {
    const quarter = MAX_BATCH_BYTES / 4;
    expect(toSqsBatches(messages(4, quarter), (m) => m).map((b) => b.entries.length)).toEqual([4]);
    const justOver = [
      ...messages(3, quarter),
      { name: 'last', queueUrl: 'q-a', bytes: quarter + 1 },
    ];
    expect(names(toSqsBatches(justOver, (m) => m))).toEqual([
      ['q-a-0', 'q-a-1', 'q-a-2'],
      ['last'],
    ]);
  });

  it('sends a message over 1 MiB alone, so SQS refuses it and nothing else', () => {
    const list = [
      { name: 'small-1', queueUrl: 'q', bytes: 10 },
      { name: 'huge', queueUrl: 'q', bytes: MAX_BATCH_BYTES + 1 },
      { name: 'small-2', queueUrl: 'q', bytes: 10 },
    ];
    expect(names(toSqsBatches(list, (m) => m))).toEqual([['small-1'], ['huge'], ['small-2']]);
  });

  it('makes no batch from no messages', () => {
    expect(toSqsBatches([], () => ({ queueUrl: 'q', bytes: 1 }))).toEqual([]);
  });
});
