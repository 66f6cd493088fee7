import { describe, expect, it } from 'vitest';
import { RegionalClients } from '../../../shared/aws/regional-clients.js';
import { parseSnsTopicArn } from '../../../shared/aws/sns-arn.js';
import { sqsQueueRegionOf } from '../../../shared/aws/sqs-url.js';

describe('parseSnsTopicArn', () => {
  it('reads the region, account, name and FIFO-ness of topic ARNs in every partition', () => {
    expect(parseSnsTopicArn('arn:aws:sns:eu-west-1:111111111111:results')).toEqual({
      arn: 'arn:aws:sns:eu-west-1:111111111111:results',
      region: 'eu-west-1',
      account: '111111111111',
      name: 'results',
      fifo: false,
    });
    expect(parseSnsTopicArn('arn:aws-cn:sns:cn-north-1:111111111111:r.fifo')).toMatchObject({
      region: 'cn-north-1',
      fifo: true,
    });
    expect(parseSnsTopicArn('arn:aws-us-gov:sns:us-gov-west-1:111111111111:r')?.region).toBe(
      'us-gov-west-1',
    );
  });

  it('refuses what is not a topic ARN', () => {
    for (const arn of [
      'arn:aws:sqs:eu-west-1:111111111111:results',
      'arn:aws:sns:eu-west-1:1111:results',
      'arn:aws:sns:eu-west-1:111111111111:results:sub-id',
      'arn:aws:sns:eu-west-1:111111111111:',
      `arn:aws:sns:eu-west-1:111111111111:${'t'.repeat(257)}`,
      'arn:aws:sns:Europe:111111111111:results',
    ]) {
      expect(parseSnsTopicArn(arn), arn).toBeUndefined();
    }
  });
});

describe('sqsQueueRegionOf', () => {
  it("reads an AWS queue URL's region, an emulator's sqs.<region>. host, or says nothing", () => {
    expect(sqsQueueRegionOf('https://sqs.eu-west-1.amazonaws.com/111111111111/q')).toBe(
      'eu-west-1',
    );
    expect(sqsQueueRegionOf('https://ap-south-1.queue.amazonaws.com/111111111111/q')).toBe(
      'ap-south-1',
    );
    expect(sqsQueueRegionOf('http://sqs.eu-central-1.localhost:4566/000000000000/q')).toBe(
      'eu-central-1',
    );
    expect(sqsQueueRegionOf('http://localhost:4566/000000000000/q')).toBeUndefined();
    expect(sqsQueueRegionOf('http://sqs.nowhere.localhost:4566/000000000000/q')).toBeUndefined();
  });
});

describe('RegionalClients', () => {
  it('makes one client per region and evicts (and destroys) the least recently used past its bound', () => {
    const destroyed: string[] = [];
    const clients = new RegionalClients(
      (region) => ({ region, destroy: () => destroyed.push(region ?? '') }),
      2,
    );
    const first = clients.get('eu-west-1');
    expect(clients.get('eu-west-1')).toBe(first);
    clients.get('us-east-1');
    clients.get('eu-west-1'); // most recently used again
    clients.get('ap-south-1');
    expect(destroyed).toEqual(['us-east-1']);
    expect(clients.regions()).toEqual(['eu-west-1', 'ap-south-1']);
    clients.destroy();
    expect(destroyed).toEqual(['us-east-1', 'eu-west-1', 'ap-south-1']);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new RegionalClients(() => ({}), 0)).toThrow(
      new RangeError('maxClients must be a positive integer, not 0'),
    );
  });
});
