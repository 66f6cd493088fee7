/**
 * One execution environment of the dispatcher, as Lambda makes one per concurrent batch: the
 * deployed handler module's factory (functions/dispatcher/create-handler.ts) with Powertools of
 * its own, writing its JSON log lines and EMF documents to `log`, and a dispatcher of its own over
 * the stores, runner and clients that `clients.overrides` shares among environments. The local
 * stack (local/stack.ts) and a dispatcher process (local/dispatcher-process-main.ts) build their
 * pollers' handlers with it.
 */
import type { Writable } from 'node:stream';
import { createHandler } from '../functions/dispatcher/create-handler.js';
import type { DispatcherEnvironment } from '../shared/config/environment.js';
import { createDispatcher, type DispatcherClients } from '../shared/dispatch/create-dispatcher.js';
import { powertoolsTelemetry } from '../shared/dispatch/telemetry.js';
import { powertoolsWritingTo } from './powertools-output.js';

/** A new execution environment: its dispatcher and its Lambda handler. */
export function executionEnvironment(
  env: DispatcherEnvironment,
  clients: DispatcherClients,
  log: Writable,
) {
  const { logger, metrics } = powertoolsWritingTo(log);
  const { dispatcher } = createDispatcher(env, {
    ...clients,
    telemetry: powertoolsTelemetry(logger, metrics),
  });
  return { dispatcher, handler: createHandler({ dispatcher, logger, metrics }) };
}
