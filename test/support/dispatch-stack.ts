import { LOCAL_ACCOUNT, type LocalStackOptions, startLocalStack } from '../../local/stack.js';

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
