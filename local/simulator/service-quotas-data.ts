/**
 * What the simulated Service Quotas answers: a few real quotas of EC2, VPC and Lambda, so that
 * `ListServiceQuotas` and `GetServiceQuota` return what the service would for the caller's
 * account and region. Read-only: Service Quotas calls change nothing here.
 */
import type { SimCall } from './call.js';
import { ProviderError } from './errors.js';

interface QuotaSeed {
  readonly code: string;
  readonly name: string;
  readonly value: number;
}

/** A few real quotas, so answers look like the service's. */
const QUOTAS: Readonly<Record<string, { name: string; quotas: readonly QuotaSeed[] }>> = {
  ec2: {
    name: 'Amazon Elastic Compute Cloud (Amazon EC2)',
    quotas: [
      {
        code: 'L-1216C47A',
        name: 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances',
        value: 1152,
      },
      {
        code: 'L-34B43A08',
        name: 'All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests',
        value: 1152,
      },
      { code: 'L-0263D0A3', name: 'EC2-VPC Elastic IPs', value: 5 },
    ],
  },
  vpc: {
    name: 'Amazon Virtual Private Cloud (Amazon VPC)',
    quotas: [
      { code: 'L-F678F1CE', name: 'VPCs per Region', value: 5 },
      { code: 'L-407747CB', name: 'Subnets per VPC', value: 200 },
    ],
  },
  lambda: {
    name: 'AWS Lambda',
    quotas: [{ code: 'L-B99A9384', name: 'Concurrent executions', value: 1000 }],
  },
};

/**
 * The result of an admitted Service Quotas call: the List and Get operations read the seeded
 * quotas; any other operation succeeds with an empty result.
 * @throws {ProviderError} `IllegalArgumentException` for a missing code, `NoSuchResourceException`
 *   for a quota not seeded.
 */
export function serviceQuotasResult(call: SimCall): unknown {
  switch (call.action) {
    case 'ListServiceQuotas':
    case 'ListAWSDefaultServiceQuotas': {
      const serviceCode = requiredString(call.input, 'ServiceCode');
      // An unknown service code lists nothing rather than failing: other services just have
      // no quotas seeded here.
      const quotas = QUOTAS[serviceCode]?.quotas ?? [];
      return { Quotas: quotas.map((seed) => quotaJson(call, serviceCode, seed)) };
    }
    case 'GetServiceQuota':
    case 'GetAWSDefaultServiceQuota': {
      const serviceCode = requiredString(call.input, 'ServiceCode');
      const quotaCode = requiredString(call.input, 'QuotaCode');
      const seed = QUOTAS[serviceCode]?.quotas.find((q) => q.code === quotaCode);
      if (seed === undefined) {
        throw new ProviderError(
          'NoSuchResourceException',
          `The request failed because the specified quota ${serviceCode}/${quotaCode} does not exist.`,
        );
      }
      return { Quota: quotaJson(call, serviceCode, seed) };
    }
    default:
      return {};
  }
}

function quotaJson(call: SimCall, serviceCode: string, seed: QuotaSeed): Record<string, unknown> {
  return {
    ServiceCode: serviceCode,
    ServiceName: QUOTAS[serviceCode]?.name ?? serviceCode,
    QuotaArn: `arn:aws:servicequotas:${call.region}:${call.account}:${serviceCode}/${seed.code}`,
    QuotaCode: seed.code,
    QuotaName: seed.name,
    Value: seed.value,
    Unit: 'None',
    Adjustable: true,
    GlobalQuota: false,
  };
}

function requiredString(input: Readonly<Record<string, unknown>>, field: string): string {
  const value = input[field];
  if (typeof value === 'string' && value !== '') return value;
  throw new ProviderError('IllegalArgumentException', `${field} is required`);
}
