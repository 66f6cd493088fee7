/**
 * The reply sender with its client factories injected: which region's client each destination
 * gets, what SQS and SNS are asked to do (attributes, FIFO ids), and what is reported unsent.
 * Delivery itself, through the SQS emulator's SQS and SNS, is in test/integration/replies.test.ts.
 */
import { PublishCommand } from '@aws-sdk/client-sns';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { SluiceRequest } from '../../../shared/contract/request.js';
import {
  rejectedResult,
  type SluiceResult,
  succeededResult,
} from '../../../shared/contract/result.js';
import { type Reply, ReplySender, replyMessage } from '../../../shared/dispatch/replies.js';

/** A client that records the commands it is sent, as one region's client would. */
function recordingClients(fail: (command: unknown) => boolean = () => false) {
  const made: string[] = [];
  const sent: { service: string; region: string; command: unknown }[] = [];
  const client = (service: string, region: string | undefined) => {
    made.push(`${service}:${region ?? '(default)'}`);
    return {
      send: async (command: unknown) => {
        sent.push({ service, region: region ?? '(default)', command });
        if (fail(command)) throw Object.assign(new Error('denied'), { name: 'AuthorizationError' });
        return { Successful: [], Failed: [] };
      },
      destroy: () => {},
    };
  };
  return {
    made,
    sent,
    clients: {
      // The recording client answers what the sender reads of SQS's and SNS's answers.
      sqs: (region: string | undefined) => client('sqs', region) as never,
      sns: (region: string | undefined) => client('sns', region) as never,
    },
  };
}

/** The input of a recorded command. */
function inputOf<C extends { input: unknown }>(sent: { command: unknown } | undefined): C['input'] {
  if (sent === undefined) throw new Error('nothing was sent');
  return (sent.command as C).input;
}

const request: SluiceRequest = {
  v: 1,
  id: 'run-7',
  target: { account: '111111111111', region: 'us-east-1' },
  call: { service: 'ec2', operation: 'RunInstances', input: { MinCount: 1, MaxCount: 1 } },
};
const result = succeededResult('run-7', 1, { Instances: [] }, { receivedAt: 1, finishedAt: 2 });

/** The reply's attributes as SQS and SNS are given them. */
const SENT_ATTRIBUTES = {
  status: { DataType: 'String', StringValue: 'succeeded' },
  producer: { DataType: 'String', StringValue: 'default' },
  operation: { DataType: 'String', StringValue: 'RunInstances' },
  service: { DataType: 'String', StringValue: 'ec2' },
};

function reply(destination: string, key = destination): Reply {
  return { key, ...replyMessage(destination, request, result, 'default') };
}

describe('replyMessage', () => {
  it('carries the result as JSON and the attributes subscribers filter on', () => {
    expect(replyMessage('arn:aws:sns:us-east-1:111111111111:r', request, result, 'team-a')).toEqual(
      {
        destination: 'arn:aws:sns:us-east-1:111111111111:r',
        body: JSON.stringify(result),
        attributes: {
          status: 'succeeded',
          producer: 'team-a',
          operation: 'RunInstances',
          service: 'ec2',
        },
        fifo: {
          groupId: expect.stringMatching(/^[0-9a-f]{64}$/),
          deduplicationId: expect.stringMatching(/^[0-9a-f]{64}$/),
        },
      },
    );
  });

  it('derives one deduplication id per producer and request id', () => {
    const dedup = (producer: string, id: string) =>
      replyMessage('q', { ...request, id }, result, producer).fifo.deduplicationId;
    expect(dedup('a', 'x')).toBe(dedup('a', 'x'));
    expect(dedup('a', 'x')).not.toBe(dedup('b', 'x'));
    expect(dedup('a', 'x')).not.toBe(dedup('a', 'y'));
  });

  it("puts each producer's request in a message group of its own", () => {
    const group = (producer: string, id: string) =>
      replyMessage('q', { ...request, id }, result, producer).fifo.groupId;
    expect(group('a', 'x')).toBe(group('a', 'x'));
    expect(group('a', 'x')).not.toBe(group('b', 'x'));
    expect(group('a', 'x')).not.toBe(group('a', 'y'));
  });

  it('gives an IdConflict answer another deduplication id than the request result it follows', () => {
    const conflict = rejectedResult(
      request.id,
      [{ field: 'id', rule: 'conflict', message: 'id: taken (conflict)' }],
      3,
      'IdConflict',
    );
    const dedup = (r: SluiceResult) => replyMessage('q', request, r, 'a').fifo.deduplicationId;
    expect(dedup(result)).toBe(dedup({ ...result }));
    expect(dedup(conflict)).not.toBe(dedup(result));
  });
});

describe('ReplySender', () => {
  it('sends to a queue in another region with a client of that region', async () => {
    const t = recordingClients();
    const sender = new ReplySender(t.clients);
    const url = 'https://sqs.eu-west-1.amazonaws.com/111111111111/results';
    expect(await sender.sendAll([reply(url)])).toEqual(new Map());
    expect(t.made).toEqual(['sqs:eu-west-1']);
    const [sent] = t.sent;
    expect(sent?.region).toBe('eu-west-1');
    expect(sent?.command).toBeInstanceOf(SendMessageBatchCommand);
    expect(inputOf<SendMessageBatchCommand>(sent)).toEqual({
      QueueUrl: url,
      Entries: [
        {
          Id: '0',
          MessageBody: JSON.stringify(result),
          MessageAttributes: SENT_ATTRIBUTES,
        },
      ],
    });
  });

  it('keeps one client per region, and uses the default region for a URL that names none', async () => {
    const t = recordingClients();
    const sender = new ReplySender(t.clients);
    await sender.sendAll([
      reply('https://sqs.eu-west-1.amazonaws.com/111111111111/a'),
      reply('https://sqs.us-east-2.amazonaws.com/111111111111/b'),
      reply('http://localhost:4566/000000000000/c'),
    ]);
    await sender.sendAll([reply('https://sqs.eu-west-1.amazonaws.com/111111111111/d')]);
    expect(t.made.sort()).toEqual(['sqs:(default)', 'sqs:eu-west-1', 'sqs:us-east-2']);
    expect(sender.clientRegions().sqs).toEqual(['us-east-2', '', 'eu-west-1']);
  });

  it('gives a FIFO queue the message group and deduplication id', async () => {
    const t = recordingClients();
    const url = 'https://sqs.us-west-2.amazonaws.com/111111111111/results.fifo';
    await new ReplySender(t.clients).sendAll([reply(url)]);
    const entry = inputOf<SendMessageBatchCommand>(t.sent[0]).Entries?.[0];
    const { fifo } = replyMessage(url, request, result, 'default');
    expect(entry).toMatchObject({
      MessageGroupId: fifo.groupId,
      MessageDeduplicationId: fifo.deduplicationId,
    });
  });

  it('publishes to a topic with a client of its region, with the attributes and no FIFO ids', async () => {
    const t = recordingClients();
    const topic = 'arn:aws:sns:ap-southeast-2:111111111111:results';
    expect(await new ReplySender(t.clients).sendAll([reply(topic)])).toEqual(new Map());
    expect(t.made).toEqual(['sns:ap-southeast-2']);
    expect(t.sent[0]?.command).toBeInstanceOf(PublishCommand);
    expect(inputOf<PublishCommand>(t.sent[0])).toEqual({
      TopicArn: topic,
      Message: JSON.stringify(result),
      MessageAttributes: SENT_ATTRIBUTES,
    });
  });

  it('gives a FIFO topic the message group and deduplication id', async () => {
    const t = recordingClients();
    const topic = 'arn:aws-us-gov:sns:us-gov-west-1:111111111111:results.fifo';
    await new ReplySender(t.clients).sendAll([reply(topic)]);
    expect(inputOf<PublishCommand>(t.sent[0])).toMatchObject({
      MessageGroupId: replyMessage(topic, request, result, 'default').fifo.groupId,
      MessageDeduplicationId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(t.made).toEqual(['sns:us-gov-west-1']);
  });

  it('reports a refused publish and a destination it cannot read by key, and sends the rest', async () => {
    const t = recordingClients((command) => command instanceof PublishCommand);
    const unsent = await new ReplySender(t.clients).sendAll([
      reply('arn:aws:sns:us-east-1:111111111111:theirs', 'topic'),
      reply('ftp://example.com/q', 'nonsense'),
      reply('https://sqs.us-east-1.amazonaws.com/111111111111/ours', 'queue'),
    ]);
    expect(unsent).toEqual(
      new Map([
        ['topic', 'AuthorizationError'],
        ['nonsense', 'not an SQS queue URL or an SNS topic ARN'],
      ]),
    );
    expect(t.sent.map((s) => s.service)).toEqual(['sns', 'sqs']);
  });
});
