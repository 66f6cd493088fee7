/**
 * One call through the simulated provider, in the order AWS applies its checks: count it, admit
 * it against the caller's buckets (throttling first), check the caller's permissions (the
 * `permits` option: `UnauthorizedOperation` otherwise), apply a fault armed for it, run it (or
 * replay an earlier `ClientToken` answer), record the execution, and apply a fault armed for
 * after it ran. The same pipeline serves both services; each brings its codec, its buckets and
 * what running a call means. No HTTP here: the server decodes requests into these calls.
 *
 * Every step is synchronous, so the bucket check and debit are atomic across concurrent requests.
 */
import { randomUUID } from 'node:crypto';
import { InvalidCostError } from '../../shared/limits/errors.js';
import type { BucketNeed } from '../../shared/limits/types.js';
import { EC2_SERVICE } from '../../shared/services/ec2.js';
import { SERVICE_QUOTAS_SERVICE } from '../../shared/services/service-quotas.js';
import type { Answer, Caller, ProtocolCodec, Reply, SimCall } from './call.js';
import { ClientTokens } from './ec2-client-tokens.js';
import { Ec2Instances } from './ec2-instances.js';
import {
  EC2_CODEC,
  ec2Error,
  ec2SdkInput,
  missingOrInvalid,
  nestQueryParams,
  xmlAnswer,
} from './ec2-protocol.js';
import { DRY_RUN_OPERATION, ProviderError, unauthorizedOperation } from './errors.js';
import { Faults, faultError, type SimFault } from './faults.js';
import type { ProviderSimulatorOptions } from './options.js';
import { serviceQuotasResult } from './service-quotas-data.js';
import {
  jsonAnswer,
  jsonError,
  SERVICE_QUOTAS_CODEC,
  serviceQuotasInput,
  serviceQuotasOperation,
} from './service-quotas-protocol.js';
import { Stats } from './stats.js';
import { catalogNeeds, retryAfterSeconds, type SimBucketKey, Throttle } from './throttle.js';

/** What an admitted call came to: it ran (side effects happened) or replayed an earlier answer. */
type Performed =
  | { readonly ran: true; readonly answer: Answer; readonly clientToken?: string }
  | { readonly ran: false; readonly answer: Answer };

/** The service-specific steps of the pipeline; either may throw a {@link ProviderError}. */
interface Steps {
  /** The buckets the call draws on. */
  needs(): readonly BucketNeed[];
  /** Runs the admitted call. */
  perform(): Performed;
}

/** The answer to a call the caller's IAM policies do not allow, in the service's terms. */
function denied(call: SimCall): ProviderError {
  return call.service === EC2_SERVICE
    ? unauthorizedOperation()
    : new ProviderError(
        'AccessDeniedException',
        'You do not have sufficient access to perform this action.',
      );
}

/** The simulated provider's state and its request pipeline. */
export class Simulator {
  readonly stats = new Stats();
  readonly faults: Faults;
  private readonly throttle: Throttle;
  private readonly instances = new Ec2Instances();
  private readonly clientTokens = new ClientTokens();
  private readonly clock: () => number;

  constructor(private readonly options: ProviderSimulatorOptions) {
    this.clock = options.clock ?? Date.now;
    this.throttle = new Throttle({ limits: options.limits, penalty: options.penalty });
    this.faults = new Faults(options.faults);
  }

  /** Tokens in a bucket now (refilled to the clock); a bucket never used is full. */
  bucketTokens(key: SimBucketKey): number {
    return this.throttle.tokens(key, this.clock());
  }

  /** Tokens taken from a bucket by the calls it admitted, since the start (or `reset()`). */
  bucketDebits(key: SimBucketKey): number {
    return this.throttle.debited(key);
  }

  /**
   * Back to the start: full buckets, no penalties, zero counters, no executions, token records
   * or instances, and only the options' faults armed.
   */
  reset(): void {
    this.stats.clear();
    this.throttle.clear();
    this.clientTokens.clear();
    this.instances.clear();
    this.faults.reset();
  }

  /** An EC2 Query request, by its parameters (`Action`, `Version` and the action's own). */
  ec2(params: URLSearchParams, caller: Caller): Reply {
    const requestId = randomUUID();
    const action = params.get('Action');
    if (!action) {
      return ec2Error(
        new ProviderError('MissingAction', 'The request must contain the parameter Action'),
        requestId,
      );
    }
    const call: SimCall = {
      service: EC2_SERVICE,
      action,
      ...caller,
      input: nestQueryParams(params),
    };
    const clientToken = params.get('ClientToken') ?? undefined;
    const known = this.clientTokens.recall(call, clientToken);
    return this.serve(call, requestId, EC2_CODEC, {
      needs: () => {
        let needs: readonly BucketNeed[];
        try {
          needs = catalogNeeds(call.service, action, ec2SdkInput(call.input));
        } catch (err) {
          // A missing or malformed MaxCount / InstanceId list: EC2 rejects the call unrun.
          if (!(err instanceof InvalidCostError)) throw err;
          throw missingOrInvalid(params, action === 'RunInstances' ? 'MaxCount' : 'InstanceId');
        }
        // A repeat launches nothing: it spends its request token but not instance tokens.
        return known === undefined ? needs : needs.slice(0, 1);
      },
      perform: () => {
        if (known !== undefined) {
          return { ran: false, answer: this.clientTokens.replay(known, params, requestId) };
        }
        const render = this.instances.execute(call, params, clientToken, this.clock());
        this.clientTokens.remember(call, clientToken, params, render);
        return { ran: true, answer: xmlAnswer(render(requestId), requestId), clientToken };
      },
    });
  }

  /** A Service Quotas request, by its `X-Amz-Target` header and JSON body. */
  serviceQuotas(target: string, body: string, caller: Caller): Reply {
    const requestId = randomUUID();
    let call: SimCall;
    try {
      const action = serviceQuotasOperation(target);
      call = {
        service: SERVICE_QUOTAS_SERVICE,
        action,
        ...caller,
        input: serviceQuotasInput(body),
      };
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      return jsonError(err, requestId);
    }
    return this.serve(call, requestId, SERVICE_QUOTAS_CODEC, {
      needs: () => catalogNeeds(call.service, call.action, call.input),
      perform: () => ({ ran: true, answer: jsonAnswer(serviceQuotasResult(call), requestId) }),
    });
  }

  /** The pipeline every call that named an action goes through; see the header comment. */
  private serve(call: SimCall, requestId: string, codec: ProtocolCodec, steps: Steps): Reply {
    const counters = this.stats.countersOf(call);
    counters.received++;
    let performed: Performed;
    try {
      const admission = this.throttle.admit(call, steps.needs(), this.clock());
      if (!admission.admitted) {
        counters.throttled++;
        const retryAfter =
          this.options.retryAfter === true ? retryAfterSeconds(admission.waitSeconds) : undefined;
        return codec.throttled(requestId, retryAfter);
      }
      if (this.options.permits?.(call) === false) throw denied(call);
      const before = this.faults.take(call, false);
      if (before !== undefined) {
        counters.errors++;
        return faultReply(before, codec, requestId);
      }
      performed = steps.perform();
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      if (err.code === DRY_RUN_OPERATION) counters.dryRuns++;
      else counters.errors++;
      return codec.error(err, requestId);
    }
    if (performed.ran) {
      counters.executed++;
      this.stats.recordExecution(call, this.clock(), performed.clientToken);
    } else {
      counters.duplicateTokens++;
    }
    const after = this.faults.take(call, true);
    if (after !== undefined) return faultReply(after, codec, requestId);
    return performed.answer;
  }
}

/** What a fault makes of the answer: an error in the protocol's format, a reset, a hang. */
function faultReply(fault: SimFault, codec: ProtocolCodec, requestId: string): Reply {
  return fault.kind === 'error' ? codec.error(faultError(fault), requestId) : fault.kind;
}
