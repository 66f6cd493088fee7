/**
 * The decoding half of the simulator's protocols on their own: the caller from a SigV4
 * credential scope, EC2 Query input in the catalog's SDK names and its missing/invalid parameter
 * answers, and Service Quotas' target header and JSON body. (Answers as the SDK reads them are
 * proven end to end in test/integration/provider-simulator.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { callerOf } from '../../../local/simulator/call.js';
import {
  ec2SdkInput,
  missingOrInvalid,
  nestQueryParams,
} from '../../../local/simulator/ec2-protocol.js';
import { ProviderError } from '../../../local/simulator/errors.js';
import {
  serviceQuotasInput,
  serviceQuotasOperation,
} from '../../../local/simulator/service-quotas-protocol.js';
import { thrown } from './thrown.js';

const AUTHORIZATION =
  'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20250101/eu-west-1/ec2/aws4_request, ' +
  'SignedHeaders=host;x-amz-date, Signature=abc';

describe('callerOf', () => {
  it('maps the credential scope’s access key to its account and takes the scope’s region', () => {
    expect(callerOf(AUTHORIZATION, { accounts: { AKIAEXAMPLE: '111111111111' } })).toEqual({
      account: '111111111111',
      region: 'eu-west-1',
      accessKeyId: 'AKIAEXAMPLE',
    });
  });

  it('an unlisted access key is its own account', () => {
    expect(callerOf(AUTHORIZATION, {}).account).toBe('AKIAEXAMPLE');
  });

  it('an unsigned request is account 000000000000 in the default region', () => {
    expect(callerOf(undefined, { defaultRegion: 'ap-south-1' })).toEqual({
      account: '000000000000',
      region: 'ap-south-1',
      accessKeyId: '',
    });
    expect(callerOf(undefined, {}).region).toBe('us-east-1');
  });
});

describe('ec2SdkInput', () => {
  it('renames wire lists to SDK members and makes MaxCount a number', () => {
    const input = nestQueryParams(
      new URLSearchParams(
        'Action=RunInstances&MaxCount=3&InstanceId.1=i-a&Filter.1.Name=x&Filter.1.Value.1=y&ImageId=ami-1',
      ),
    );
    expect(ec2SdkInput(input)).toEqual({
      MaxCount: 3,
      InstanceIds: ['i-a'],
      Filters: [{ Name: 'x', Value: ['y'] }],
    });
  });

  it('keeps a MaxCount that is not a number as it came, for the catalog to reject', () => {
    expect(ec2SdkInput({ MaxCount: 'many' })).toEqual({ MaxCount: 'many' });
  });
});

describe('missingOrInvalid', () => {
  it('is MissingParameter when the parameter is absent, InvalidParameterValue when present', () => {
    expect(missingOrInvalid(new URLSearchParams('Action=RunInstances'), 'MaxCount')).toMatchObject({
      code: 'MissingParameter',
      message: 'The request must contain the parameter MaxCount',
      status: 400,
    });
    expect(
      missingOrInvalid(new URLSearchParams('Action=StopInstances&InstanceId.1='), 'InstanceId'),
    ).toMatchObject({
      code: 'InvalidParameterValue',
      message: 'Invalid value for parameter InstanceId',
    });
  });
});

describe('Service Quotas decoding', () => {
  it('takes the operation from the target header', () => {
    expect(serviceQuotasOperation('ServiceQuotasV20190624.GetServiceQuota')).toBe(
      'GetServiceQuota',
    );
  });

  it('rejects another service’s target with UnknownOperationException', () => {
    const err = thrown(() => serviceQuotasOperation('AmazonSQS.SendMessage'));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({
      code: 'UnknownOperationException',
      message: 'Unknown target AmazonSQS.SendMessage',
    });
  });

  it('reads a JSON object body; an empty body or a non-object is no input', () => {
    expect(serviceQuotasInput('{"ServiceCode":"ec2"}')).toEqual({ ServiceCode: 'ec2' });
    expect(serviceQuotasInput('')).toEqual({});
    expect(serviceQuotasInput('[1,2]')).toEqual({});
  });

  it('rejects a body that is not JSON with SerializationException', () => {
    const err = thrown(() => serviceQuotasInput('{"ServiceCode":'));
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'SerializationException', message: 'Malformed JSON body' });
  });
});
