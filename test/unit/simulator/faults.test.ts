/**
 * Armed faults on their own: which calls a fault matches, when it applies (before or after the
 * call runs), how often, and what disarming and reset do.
 */
import { describe, expect, it } from 'vitest';
import type { SimCall } from '../../../local/simulator/call.js';
import { ProviderError } from '../../../local/simulator/errors.js';
import { Faults, faultError, type SimFault } from '../../../local/simulator/faults.js';

const CALL: SimCall = {
  service: 'ec2',
  action: 'RunInstances',
  account: '111111111111',
  region: 'us-east-1',
  accessKeyId: 'AKIAA',
  input: { MaxCount: '2' },
};

const INTERNAL: SimFault = { kind: 'error', code: 'InternalError' };

describe('Faults.take', () => {
  it('applies a fault only to calls matching every field it sets', () => {
    const faults = new Faults();
    faults.arm({ ...INTERNAL, service: 'ec2', action: 'RunInstances', account: '111111111111' });
    expect(faults.take({ ...CALL, action: 'StartInstances' }, false)).toBeUndefined();
    expect(faults.take({ ...CALL, account: '222222222222' }, false)).toBeUndefined();
    expect(faults.take({ ...CALL, service: 'service-quotas' }, false)).toBeUndefined();
    expect(faults.take(CALL, false)?.kind).toBe('error');
  });

  it('asks its `when` predicate about the call', () => {
    const faults = new Faults();
    faults.arm({ ...INTERNAL, when: (call) => call.input.MaxCount === '3' });
    expect(faults.take(CALL, false)).toBeUndefined();
    expect(faults.take({ ...CALL, input: { MaxCount: '3' } }, false)).toBeDefined();
  });

  it('keeps before-run and after-run faults apart', () => {
    const faults = new Faults();
    faults.arm({ kind: 'reset', afterExecute: true });
    expect(faults.take(CALL, false)).toBeUndefined();
    expect(faults.take(CALL, true)?.kind).toBe('reset');
  });

  it('retires a fault after `times` applications; without `times` it stays', () => {
    const faults = new Faults();
    faults.arm({ ...INTERNAL, action: 'RunInstances', times: 2 });
    faults.arm({ kind: 'reset', action: 'StartInstances' });
    expect(faults.take(CALL, false)).toBeDefined();
    expect(faults.take(CALL, false)).toBeDefined();
    expect(faults.take(CALL, false)).toBeUndefined();
    const start = { ...CALL, action: 'StartInstances' };
    for (let i = 0; i < 5; i++) expect(faults.take(start, false)?.kind).toBe('reset');
  });

  it('applies the first armed fault that matches', () => {
    const faults = new Faults();
    faults.arm({ kind: 'error', code: 'Unavailable', times: 1 });
    faults.arm(INTERNAL);
    expect(faults.take(CALL, false)).toMatchObject({ code: 'Unavailable' });
    expect(faults.take(CALL, false)).toMatchObject({ code: 'InternalError' });
  });

  it('disarm() removes only that fault', () => {
    const faults = new Faults();
    const disarm = faults.arm({ kind: 'error', code: 'Unavailable' });
    faults.arm(INTERNAL);
    disarm();
    expect(faults.take(CALL, false)).toMatchObject({ code: 'InternalError' });
  });
});

describe('Faults.reset', () => {
  it('disarms injected faults and re-arms the initial ones with their counts restored', () => {
    const faults = new Faults([{ ...INTERNAL, times: 1 }]);
    faults.arm({ kind: 'reset', afterExecute: true });
    expect(faults.take(CALL, false)).toBeDefined();
    expect(faults.take(CALL, false)).toBeUndefined();
    faults.reset();
    expect(faults.take(CALL, true)).toBeUndefined();
    expect(faults.take(CALL, false)).toMatchObject({ code: 'InternalError' });
  });
});

describe('faultError', () => {
  it('takes the status of a well-known code and a default message', () => {
    const err = faultError({ kind: 'error', code: 'UnauthorizedOperation' });
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ code: 'UnauthorizedOperation', status: 403 });
    expect(err.message).toBe('Simulated UnauthorizedOperation.');
  });

  it('keeps the status and message the fault gives; unknown codes are 400', () => {
    expect(
      faultError({ kind: 'error', code: 'Throttled', status: 429, message: 'slow down' }),
    ).toMatchObject({
      status: 429,
      message: 'slow down',
    });
    expect(faultError({ kind: 'error', code: 'SomethingElse' }).status).toBe(400);
  });
});
