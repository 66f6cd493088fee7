/**
 * CallRunner's `credentialsFor`: each target account's clients get that account's credentials
 * (how the local stack makes the provider simulator see distinct callers); a target with a
 * `roleArn` still assumes its role, and without the option `clientDefaults` applies.
 */

import { describe, expect, it } from 'vitest';
import { accountCredentials } from '../../../local/emulators/credentials.js';
import { CallRunner, type RunnableService } from '../../../shared/dispatch/call-runner.js';

function fakeService(configs: Record<string, unknown>[]): RunnableService {
  class Describe {
    constructor(readonly input: unknown) {}
  }
  return {
    idempotencyTokens: {},
    idempotentOperations: new Set(),
    callTimeouts: { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000 },
    isReadOnly: () => true,
    load: async () => ({
      createClient: (config) => {
        configs.push(config);
        return { send: async () => ({ $metadata: {} }), destroy: () => undefined };
      },
      command: (operation) => (operation === 'Describe' ? Describe : undefined),
    }),
  };
}

const call = { service: 'fake', operation: 'Describe', input: {} };
const producer = 'default';
const allow = [{ service: 'fake', operations: ['Describe'] }];

describe('CallRunner credentialsFor', () => {
  it('signs each account with its own credentials, over clientDefaults', async () => {
    const configs: Record<string, unknown>[] = [];
    const runner = new CallRunner({
      targets: [
        { account: '111111111111', allow },
        { account: '222222222222', allow },
      ],
      services: { fake: fakeService(configs) },
      clientDefaults: { credentials: { accessKeyId: 'shared', secretAccessKey: 'x' } },
      credentialsFor: accountCredentials,
    });
    await runner.run({
      producer,
      id: 'a',
      target: { account: '111111111111', region: 'us-east-1' },
      call,
    });
    await runner.run({
      producer,
      id: 'b',
      target: { account: '222222222222', region: 'us-east-1' },
      call,
    });
    expect(configs.map((c) => (c.credentials as { accessKeyId: string }).accessKeyId)).toEqual([
      '111111111111',
      '222222222222',
    ]);
  });

  it('keeps clientDefaults without it, and a role over it', async () => {
    const configs: Record<string, unknown>[] = [];
    const runner = new CallRunner({
      targets: [
        { account: '111111111111', allow },
        { account: '222222222222', allow, roleArn: 'arn:aws:iam::222222222222:role/r' },
      ],
      services: { fake: fakeService(configs) },
      clientDefaults: { credentials: { accessKeyId: 'shared', secretAccessKey: 'x' } },
    });
    await runner.run({
      producer,
      id: 'a',
      target: { account: '111111111111', region: 'us-east-1' },
      call,
    });
    expect(configs[0]?.credentials).toEqual({ accessKeyId: 'shared', secretAccessKey: 'x' });
    const withRole = new CallRunner({
      targets: [{ account: '222222222222', allow, roleArn: 'arn:aws:iam::222222222222:role/r' }],
      services: { fake: fakeService(configs) },
      credentialsFor: accountCredentials,
    });
    await withRole.run({
      producer,
      id: 'b',
      target: { account: '222222222222', region: 'us-east-1' },
      call,
    });
    expect(typeof configs[1]?.credentials).toBe('function');
  });
});

describe('CallRunner client cache', () => {
  it('keeps at most maxClients SDK clients, destroying the least recently used', async () => {
    const destroyed: string[] = [];
    const service: RunnableService = {
      idempotencyTokens: {},
      idempotentOperations: new Set(),
      callTimeouts: { connectionTimeoutMs: 1_000, requestTimeoutMs: 1_000 },
      isReadOnly: () => true,
      load: async () => ({
        createClient: (config) => ({
          send: async () => ({ $metadata: {} }),
          destroy: () => destroyed.push(String(config.region)),
        }),
        command: () =>
          class Describe {
            constructor(readonly input: unknown) {}
          },
      }),
    };
    const runner = new CallRunner({
      targets: [{ account: '111111111111', allow }],
      services: { fake: service },
      maxClients: 2,
    });
    const at = (region: string) =>
      runner.run({ producer, id: region, target: { account: '111111111111', region }, call });
    await at('us-east-1');
    await at('us-east-2');
    await at('us-east-1');
    await at('eu-west-1');
    expect(runner.clientCount).toBe(2);
    expect(destroyed).toEqual(['us-east-2']);
    runner.destroy();
    expect(destroyed.sort()).toEqual(['eu-west-1', 'us-east-1', 'us-east-2']);
  });
});
