/**
 * Fault injection: failures a test arms so that admitted calls fail the way a real provider
 * fails, with an error answer in the service's format, a connection dropped without an answer,
 * or a connection left hanging, never answered (before the call runs, or after it ran so the
 * caller never hears). Throttling comes first: a throttled call never meets a fault.
 */
import type { SimCall, SimService } from './call.js';
import { ProviderError } from './errors.js';

/** Which calls a fault applies to; every field set must match. */
export interface SimFaultMatch {
  readonly service?: SimService;
  readonly action?: string;
  readonly account?: string;
  readonly region?: string;
  /** Further condition on the call, e.g. its input. */
  readonly when?: (call: SimCall) => boolean;
}

/** How often and when a fault applies. */
export interface SimFaultTiming {
  /** Apply this many times, then retire. @default unlimited */
  readonly times?: number;
  /**
   * Run the call first, then answer with the fault instead of the success: the provider did the
   * work but the caller never heard (what `ClientToken` exists for). Counted as executed.
   * @default false
   */
  readonly afterExecute?: boolean;
}

/** An error answer in the service's own format (EC2 XML, Service Quotas JSON). */
export interface SimErrorFault extends SimFaultMatch, SimFaultTiming {
  readonly kind: 'error';
  /** Error code, e.g. `UnauthorizedOperation`, `InternalError`, `AccessDeniedException`. */
  readonly code: string;
  /** HTTP status; defaults from {@link SIM_ERROR_STATUS}, else 400. */
  readonly status?: number;
  readonly message?: string;
}

/** The connection is destroyed without an answer (the SDK sees `ECONNRESET`). */
export interface SimResetFault extends SimFaultMatch, SimFaultTiming {
  readonly kind: 'reset';
}

/**
 * The request is never answered: the connection stays open until the caller gives up (its
 * timeout) or the simulator closes. A hung provider.
 */
export interface SimHangFault extends SimFaultMatch, SimFaultTiming {
  readonly kind: 'hang';
}

/** An injected failure: admitted calls that match it fail this way (throttling comes first). */
export type SimFault = SimErrorFault | SimResetFault | SimHangFault;

interface ArmedFault {
  readonly fault: SimFault;
  remaining: number;
}

/** The armed faults, in the order armed; the first that matches a call applies. */
export class Faults {
  private armed: ArmedFault[] = [];

  /** @param initial faults armed from the start and re-armed by {@link Faults.reset}. */
  constructor(private readonly initial: readonly SimFault[] = []) {
    this.reset();
  }

  /** Arms a fault; returns a function that disarms it. */
  arm(fault: SimFault): () => void {
    const armed: ArmedFault = { fault, remaining: fault.times ?? Number.POSITIVE_INFINITY };
    this.armed.push(armed);
    return () => {
      this.armed = this.armed.filter((f) => f !== armed);
    };
  }

  /**
   * The first armed fault for this call at this point (before it runs, or after with
   * `afterExecute`), counted as applied once; `undefined` when none matches.
   */
  take(call: SimCall, afterExecute: boolean): SimFault | undefined {
    const armed = this.armed.find(
      ({ fault }) => (fault.afterExecute ?? false) === afterExecute && matches(fault, call),
    );
    if (armed === undefined) return undefined;
    armed.remaining--;
    if (armed.remaining <= 0) this.armed = this.armed.filter((f) => f !== armed);
    return armed.fault;
  }

  /** Disarms every fault and re-arms the initial ones. */
  reset(): void {
    this.armed = [];
    for (const fault of this.initial) this.arm(fault);
  }
}

/** The provider error an error fault answers with. */
export function faultError(fault: SimErrorFault): ProviderError {
  return new ProviderError(fault.code, fault.message ?? `Simulated ${fault.code}.`, fault.status);
}

function matches(fault: SimFault, call: SimCall): boolean {
  return (
    (fault.service === undefined || fault.service === call.service) &&
    (fault.action === undefined || fault.action === call.action) &&
    (fault.account === undefined || fault.account === call.account) &&
    (fault.region === undefined || fault.region === call.region) &&
    (fault.when === undefined || fault.when(call))
  );
}
