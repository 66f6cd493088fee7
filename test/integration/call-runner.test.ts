/**
 * The call runner's credentials: a target with a role is called with credentials from STS
 * AssumeRole (with its ExternalId) in a session of the request's producer (`RoleSessionName`
 * `sluice-<producer>`, session tag `sluice-producer`), cached per (account, producer); a target
 * without one uses the own-account role when there is one, else the coordinator's own
 * credentials. A tiny STS stand-in on loopback answers AssumeRole with an access key naming the
 * session (what the account's CloudTrail would show); EC2 calls go to the provider simulator,
 * which tells callers apart by the access key that signed the request.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProviderSimulator, startProviderSimulator } from '../../local/simulator/index.js';
import { parseDeploymentConfig } from '../../shared/config/deployment.js';
import { CallRunner, idempotencyToken } from '../../shared/dispatch/call-runner.js';
import { classifyCallError } from '../../shared/dispatch/classify.js';

const MEMBER_ROLE = 'arn:aws:iam::222222222222:role/SluiceMember';

describe('CallRunner', () => {
  let simulator: ProviderSimulator;
  let sts: Server;
  const assumeRequests: URLSearchParams[] = [];

  beforeAll(async () => {
    simulator = await startProviderSimulator();
    sts = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        assumeRequests.push(new URLSearchParams(body));
        const session = new URLSearchParams(body).get('RoleSessionName');
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIA-${session}</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>
<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::222222222222:assumed-role/SluiceMember/sluice-dispatcher</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleResponse>`);
      });
    });
    await new Promise<void>((resolve) => sts.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL_EC2 = simulator.endpoint;
    process.env.AWS_ENDPOINT_URL_STS = `http://127.0.0.1:${(sts.address() as AddressInfo).port}`;
    // The coordinator's own credentials, as the default chain finds them in Lambda.
    process.env.AWS_ACCESS_KEY_ID = 'AKIDCOORDINATOR';
    process.env.AWS_SECRET_ACCESS_KEY = 'local';
  });
  afterAll(async () => {
    await simulator?.close();
    sts?.closeAllConnections();
    await new Promise((resolve) => sts?.close(resolve));
  });

  const deployment = parseDeploymentConfig({
    targets: [
      { account: '111111111111', allow: [{ service: 'ec2', operations: ['Describe*'] }] },
      {
        account: '222222222222',
        roleArn: MEMBER_ROLE,
        externalId: 'ext-123',
        allow: [{ service: 'ec2', operations: ['Describe*'] }],
      },
    ],
  });
  const call = (account: string, id: string, producer = 'web', region = 'eu-west-1') => ({
    producer,
    id,
    target: { account, region },
    call: { service: 'ec2', operation: 'DescribeVpcs', input: {} },
  });

  it("assumes the target role with its ExternalId in the producer's session, once per producer, and signs calls with those credentials", async () => {
    assumeRequests.length = 0;
    const runner = new CallRunner({ targets: deployment.targets });
    await runner.run(call('222222222222', 'a'));
    await runner.run(call('222222222222', 'b'));
    // Another region: another client, the same session.
    await runner.run(call('222222222222', 'c', 'web', 'us-east-1'));
    await runner.run(call('222222222222', 'a', 'batch'));
    expect(assumeRequests).toHaveLength(2);
    const [web, batch] = assumeRequests;
    expect(Object.fromEntries(web ?? [])).toMatchObject({
      Action: 'AssumeRole',
      RoleArn: MEMBER_ROLE,
      ExternalId: 'ext-123',
      RoleSessionName: 'sluice-web',
      'Tags.member.1.Key': 'sluice-producer',
      'Tags.member.1.Value': 'web',
    });
    expect(Object.fromEntries(batch ?? [])).toMatchObject({
      RoleSessionName: 'sluice-batch',
      'Tags.member.1.Value': 'batch',
    });
    // The simulator treats an unknown access key as its own caller: each producer's session.
    expect(simulator.statsFor('ASIA-sluice-web', 'eu-west-1', 'DescribeVpcs').executed).toBe(2);
    expect(simulator.statsFor('ASIA-sluice-web', 'us-east-1', 'DescribeVpcs').executed).toBe(1);
    expect(simulator.statsFor('ASIA-sluice-batch', 'eu-west-1', 'DescribeVpcs').executed).toBe(1);
    runner.destroy();
  });

  it("uses the coordinator's own credentials for a target without a role", async () => {
    const runner = new CallRunner({ targets: deployment.targets });
    await runner.run(call('111111111111', 'c'));
    expect(simulator.statsFor('AKIDCOORDINATOR', 'eu-west-1', 'DescribeVpcs').executed).toBe(1);
    runner.destroy();
  });

  it("runs own-account calls in the producer's session of the own-account role when there is one", async () => {
    assumeRequests.length = 0;
    const ownRole = 'arn:aws:iam::111111111111:role/Sluice-OwnAccountRole';
    const runner = new CallRunner({ targets: deployment.targets, ownAccountRoleArn: ownRole });
    await runner.run(call('111111111111', 'd', 'ops'));
    expect(Object.fromEntries(assumeRequests[0] ?? [])).toMatchObject({
      RoleArn: ownRole,
      RoleSessionName: 'sluice-ops',
      'Tags.member.1.Value': 'ops',
    });
    expect(assumeRequests[0]?.get('ExternalId')).toBeNull();
    expect(simulator.statsFor('ASIA-sluice-ops', 'eu-west-1', 'DescribeVpcs').executed).toBe(1);
    runner.destroy();
  });

  it('derives the same EC2 ClientToken from the same producer and id, another for another producer, within 64 ASCII characters', () => {
    expect(idempotencyToken('web', 'run-7')).toBe(idempotencyToken('web', 'run-7'));
    expect(idempotencyToken('web', 'run-7')).not.toBe(idempotencyToken('web', 'run-8'));
    expect(idempotencyToken('web', 'run-7')).not.toBe(idempotencyToken('batch', 'run-7'));
    expect(idempotencyToken('a'.repeat(32), 'x'.repeat(128))).toMatch(/^[\x21-\x7e]{1,64}$/);
  });

  it("always sends a token of the producer's own: another producer's token, or none, is never sent", async () => {
    const runner = new CallRunner({ targets: deployment.targets });
    const launch = (id: string, input: Record<string, unknown>) =>
      runner.run({
        producer: 'attacker',
        id,
        target: { account: '111111111111', region: 'eu-west-1' },
        call: {
          service: 'ec2',
          operation: 'RunInstances',
          input: { MinCount: 1, MaxCount: 1, ...input },
        },
      });
    const victims = idempotencyToken('victim', 'run-1');
    await launch('squat', { ClientToken: victims });
    await launch('no-token', { ClientToken: null });
    await launch('own', { ClientToken: 'mine' });
    const tokens = simulator.executions
      .filter((e) => e.action === 'RunInstances')
      .map((e) => e.clientToken);

    expect(tokens).not.toContain(victims);
    expect(tokens).toContain(idempotencyToken('attacker', 'no-token'));
    expect(tokens).not.toContain('mine');
    expect(tokens.every((t) => typeof t === 'string' && /^sluice-[0-9a-f]{48}$/.test(t))).toBe(
      true,
    );
    runner.destroy();
  });

  it("gives up a call the provider never answers at the service's request timeout, as a call that may have run", async () => {
    const runner = new CallRunner({
      targets: deployment.targets,
      timeouts: { ec2: { requestTimeoutMs: 300 } },
    });
    const disarm = simulator.inject({ kind: 'hang', action: 'DescribeVpcs', times: 1 });
    try {
      const error = await runner.run(call('111111111111', 'hung')).catch((e: unknown) => e);

      expect(error).toMatchObject({ name: 'TimeoutError' });
      expect(classifyCallError(error)).toMatchObject({
        kind: 'transient',
        code: 'TimeoutError',
        mayHaveRun: true,
      });
    } finally {
      disarm();
      runner.destroy();
    }
  });

  it('takes the deployment timeouts over the registry defaults, per service', () => {
    const runner = new CallRunner({
      targets: deployment.targets,
      timeouts: { ec2: { requestTimeoutMs: 7_000 } },
    });
    expect(runner.timeoutsOf('ec2')).toEqual({
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 7_000,
    });
    expect(runner.timeoutsOf('service-quotas')).toEqual({
      connectionTimeoutMs: 3_000,
      requestTimeoutMs: 10_000,
    });
  });

  it('refuses an operation the SDK does not have, naming the field', async () => {
    const runner = new CallRunner({ targets: deployment.targets });
    await expect(
      runner.check({ service: 'ec2', operation: 'DescribeNothing', input: {} }),
    ).rejects.toMatchObject({
      name: 'UnsupportedCallError',
      field: 'call.operation',
      message: 'ec2 has no operation DescribeNothing',
    });
  });
});
