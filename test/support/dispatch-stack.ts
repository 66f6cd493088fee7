import { LOCAL_ACCOUNT, type LocalStackOptions, startLocalStack } from '../../local/stack.js';
import type { SluiceRequest } from '../../shared/contract/request.js';

export const ACCOUNT = LOCAL_ACCOUNT;

/** The local stack's settings a dispatcher test chooses (the rest are the stack's defaults). */
export type StackOptions = Pick<
  LocalStackOptions,
  'simulator' | 'visibilityTimeoutSeconds' | 'maxReceiveCount' | 'overrides'
> & { readonly config: NonNullable<LocalStackOptions['config']> };

export async function startDispatchStack(options: StackOptions) {
  const stack = await startLocalStack({ ...options, accounts: [ACCOUNT] });
  const { simulator } = stack;
  if (simulator === undefined) throw new Error('the dispatch stack needs the built-in simulator');
  return { ...stack, simulator };
}

/** A request to describe the stack account's instances in us-east-1, which the simulator runs. */
export function describeInstances(id: string, extra: Partial<SluiceRequest> = {}): SluiceRequest {
  return {
    v: 1,
    id,
    target: { account: ACCOUNT, region: 'us-east-1' },
    call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
    ...extra,
  };
}
