/**
 * A whole dispatcher on the embedded emulators, for integration tests: a thin wrapper over the
 * local stack (shared/local/stack.ts) that `npm start` and the end-to-end benchmark also use.
 */
import type { DeploymentConfigInput } from '../../shared/config/deployment.js';
import type {
  createDispatcher,
  DispatcherClients,
} from '../../shared/dispatch/create-dispatcher.js';
import type { ProviderSimulatorOptions } from '../../shared/local/provider-simulator.js';
import { LOCAL_ACCOUNT, startLocalStack } from '../../shared/local/stack.js';

export const ACCOUNT = LOCAL_ACCOUNT;

export interface StackOptions {
  readonly config: Omit<DeploymentConfigInput, 'targets'> & {
    targets?: DeploymentConfigInput['targets'];
  };
  readonly simulator?: ProviderSimulatorOptions;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
  readonly overrides?: (
    built: ReturnType<typeof createDispatcher>,
  ) => DispatcherClients['overrides'];
}

export async function startDispatchStack(options: StackOptions) {
  const stack = await startLocalStack({ ...options, accounts: [ACCOUNT] });
  const { simulator } = stack;
  if (simulator === undefined) throw new Error('the dispatch stack needs the built-in simulator');
  return { ...stack, simulator };
}
