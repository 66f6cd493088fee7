/**
 * What the local stack's dispatcher is doing, per provider bucket: the calls it admitted (with
 * their slots) and the calls running now. Read by the live view; counted by wrapping the
 * dispatcher's bucket store and call runner, so the dispatcher itself knows nothing of it.
 */
import type { DeploymentConfig } from '../shared/config/deployment.js';
import type { createDispatcher, DispatcherClients } from '../shared/dispatch/create-dispatcher.js';
import { createCatalog } from '../shared/limits/index.js';

/** `account/region/bucket`, the key of every count here. */
export function activityKey(account: string, region: string, bucket: string): string {
  return `${account}/${region}/${bucket}`;
}

/** Admissions and calls in flight per bucket (its request bucket: the first a call draws on). */
export class DispatchActivity {
  readonly #slotsMs = new Map<string, number[]>();
  readonly #running = new Map<string, number>();
  readonly #catalog;

  constructor(deployment: DeploymentConfig) {
    this.#catalog = createCatalog(deployment.limits);
  }

  /** Calls admitted so far. */
  admitted(key: string): number {
    return this.#slotsMs.get(key)?.length ?? 0;
  }

  /** The slots (epoch ms) of the calls admitted so far, in admission order. */
  slots(key: string): readonly number[] {
    return this.#slotsMs.get(key) ?? [];
  }

  /** Calls running now. */
  running(key: string): number {
    return this.#running.get(key) ?? 0;
  }

  /** Admitted calls per second whose slots fell in the last `windowMs` before `nowMs`. */
  admittedRate(key: string, nowMs: number, windowMs = 5_000): number {
    const slots = this.#slotsMs.get(key) ?? [];
    let n = 0;
    for (const at of slots) if (at <= nowMs && at > nowMs - windowMs) n++;
    return n / (windowMs / 1_000);
  }

  /** Overrides for `createDispatcher` that count through the parts `built` made. */
  wrap(built: ReturnType<typeof createDispatcher>): NonNullable<DispatcherClients['overrides']> {
    const { buckets, runner } = built;
    return {
      buckets: {
        admit: async (groupBuckets, costs, tags) => {
          const outcome = await buckets.admit(groupBuckets, costs, tags);
          const ref = groupBuckets[0]?.ref;
          if (ref !== undefined) {
            const key = activityKey(ref.account, ref.region, ref.bucket);
            const slots = this.#slotsMs.get(key) ?? [];
            this.#slotsMs.set(key, slots);
            for (const d of outcome.decisions) if (d.kind === 'admitted') slots.push(d.runAtMs);
          }
          return outcome;
        },
        checkIn: (reservations, commit) => buckets.checkIn(reservations, commit),
        reportThrottle: (bucket, epoch, retryAfterMs) =>
          buckets.reportThrottle(bucket, epoch, retryAfterMs),
      },
      runner: {
        check: (call) => runner.check(call),
        isSafeToRepeat: (call) => runner.isSafeToRepeat(call),
        timeoutsOf: (service) => runner.timeoutsOf(service),
        run: async (request) => {
          const [draw] = this.#catalog.drawsFor(request.target, request.call);
          const key = activityKey(
            request.target.account,
            request.target.region,
            draw?.ref.bucket ?? '',
          );
          this.#running.set(key, this.running(key) + 1);
          try {
            return await runner.run(request);
          } finally {
            this.#running.set(key, this.running(key) - 1);
          }
        },
      },
    };
  }
}
