/**
 * What the simulated provider saw: counters of how each call ended, per caller account, region,
 * service and action, and the calls that ran, in order. Tests and the local runtime's report
 * read them to prove exactly-once execution (`ClientToken` counts) and to compare throttling
 * with what Sluice admitted.
 */
import type { SimCall, SimService } from './call.js';

/** Calls that ended each way, for one (account, region, service, action). */
export interface SimCounters {
  /** Every call that named an action; = executed + throttled + duplicateTokens + dryRuns + errors. */
  readonly received: number;
  /** Calls that ran (side effects happened), including those answered by an `afterExecute` fault. */
  readonly executed: number;
  /** Answered `RequestLimitExceeded` / `TooManyRequestsException`. */
  readonly throttled: number;
  /** Answered from the idempotency record of an earlier call with the same `ClientToken`. */
  readonly duplicateTokens: number;
  /**
   * `DryRun` calls that would have succeeded: answered `DryRunOperation` (412), EC2's success
   * signal for a DryRun. They spent a request token and ran nothing.
   */
  readonly dryRuns: number;
  /** Any other error answer: injected faults, validation, `UnauthorizedOperation`, not found. */
  readonly errors: number;
}

/** {@link SimCounters} of one (account, region, service, action). */
export interface SimActionStats extends SimCounters {
  readonly account: string;
  readonly region: string;
  readonly service: SimService;
  readonly action: string;
}

/** One call that ran, in order. */
export interface SimExecution {
  readonly account: string;
  readonly region: string;
  readonly service: SimService;
  readonly action: string;
  readonly clientToken?: string;
  /**
   * The call's input as the simulator read it (EC2: the Query parameters nested by their wire
   * names), so that a call without a token can be told apart from another: counting how often
   * one `CreateTags` ran needs what it tagged.
   */
  readonly input: SimCall['input'];
  /** The simulator's clock when the call ran. */
  readonly atMs: number;
}

/** The counters of one action, as the request pipeline increments them. */
export type CallCounters = { -readonly [K in keyof SimCounters]: number };

type ActionKey = Omit<SimActionStats, keyof SimCounters>;

/** Counters per action and the executions, in memory. */
export class Stats {
  /** Calls that ran, in order; emptied in place by {@link Stats.clear}, so views stay live. */
  readonly executions: SimExecution[] = [];
  private readonly counters = new Map<string, { key: ActionKey; c: CallCounters }>();

  /** The counters of the call's (account, region, service, action), created at zero. */
  countersOf(call: SimCall): CallCounters {
    const id = [call.account, call.region, call.service, call.action].join('\n');
    let entry = this.counters.get(id);
    if (entry === undefined) {
      const key: ActionKey = {
        account: call.account,
        region: call.region,
        service: call.service,
        action: call.action,
      };
      entry = { key, c: zeroCounters() };
      this.counters.set(id, entry);
    }
    return entry.c;
  }

  /** Records that the call ran at `atMs`, with the `ClientToken` it carried. */
  recordExecution(call: SimCall, atMs: number, clientToken?: string): void {
    this.executions.push({
      account: call.account,
      region: call.region,
      service: call.service,
      action: call.action,
      input: call.input,
      atMs,
      ...(clientToken ? { clientToken } : {}),
    });
  }

  /** Counters per (account, region, service, action), sorted by those fields. */
  list(): SimActionStats[] {
    return [...this.counters.values()]
      .map(({ key, c }) => ({ ...key, ...c }))
      .sort(
        (a, b) =>
          a.account.localeCompare(b.account) ||
          a.region.localeCompare(b.region) ||
          a.service.localeCompare(b.service) ||
          a.action.localeCompare(b.action),
      );
  }

  /** Counters of one (account, region, action), summed over services; zeros when none. */
  sumFor(account: string, region: string, action: string): SimCounters {
    const sum = zeroCounters();
    for (const { key, c } of this.counters.values()) {
      if (key.account !== account || key.region !== region || key.action !== action) continue;
      sum.received += c.received;
      sum.executed += c.executed;
      sum.throttled += c.throttled;
      sum.duplicateTokens += c.duplicateTokens;
      sum.dryRuns += c.dryRuns;
      sum.errors += c.errors;
    }
    return sum;
  }

  /** `ClientToken` → number of executions that carried it. */
  executedClientTokens(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.executions) {
      if (e.clientToken !== undefined) out.set(e.clientToken, (out.get(e.clientToken) ?? 0) + 1);
    }
    return out;
  }

  /** Zero counters, no executions. */
  clear(): void {
    this.executions.length = 0; // in place: callers hold the array
    this.counters.clear();
  }
}

function zeroCounters(): CallCounters {
  return { received: 0, executed: 0, throttled: 0, duplicateTokens: 0, dryRuns: 0, errors: 0 };
}
