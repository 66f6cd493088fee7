/**
 * What the local stack's dispatcher is doing, per provider bucket: the calls it admitted (with
 * their slots), the calls running now, the provider throttles its calls met, and each bucket's
 * learned rate. Read by the live view and the report; counted by wrapping the dispatcher's
 * bucket store and call runner, so the dispatcher itself knows nothing of it.
 */
import type { DeploymentConfig } from '../shared/config/deployment.js';
import { classifyCallError } from '../shared/dispatch/classify.js';
import type { createDispatcher, DispatcherClients } from '../shared/dispatch/create-dispatcher.js';
import { createCatalog } from '../shared/limits/index.js';

/** `account/region/bucket`, the key of every count here. */
export function activityKey(account: string, region: string, bucket: string): string {
  return `${account}/${region}/${bucket}`;
}

/**
 * Admissions and calls in flight per bucket (its request bucket: the first a call draws on), and
 * the tokens admissions took from every bucket.
 */
export class DispatchActivity {
  readonly #slotsMs = new Map<string, number[]>();
  readonly #running = new Map<string, number>();
  /** Tokens admitted calls took, per bucket (every bucket a call draws on). */
  readonly #debits = new Map<string, number>();
  readonly #learnedRate = new Map<string, number>();
  #throttles = 0;
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

  /** Tokens the calls admitted so far took from a bucket (e.g. `…/RunInstances:resource`). */
  debited(key: string): number {
    return this.#debits.get(key) ?? 0;
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

  /** The bucket's learned rate (calls/s) at its last admission, once it has had one. */
  learnedRate(key: string): number | undefined {
    return this.#learnedRate.get(key);
  }

  /** Provider throttles the dispatcher's calls met so far, over every bucket. */
  throttles(): number {
    return this.#throttles;
  }

  /** Overrides for `createDispatcher` that count through the parts `built` made. */
  wrap(built: ReturnType<typeof createDispatcher>): NonNullable<DispatcherClients['overrides']> {
    const { buckets, runner } = built;
    return {
      buckets: {
        admit: async (groupBuckets, costs, tags) => {
          const outcome = await buckets.admit(groupBuckets, costs, tags);
          outcome.decisions.forEach((d, i) => {
            if (d.kind !== 'admitted') return;
            groupBuckets.forEach(({ ref: { account, region, bucket } }, b) => {
              const key = activityKey(account, region, bucket);
              this.#debits.set(key, this.debited(key) + (costs[i]?.[b] ?? 0));
            });
          });
          const ref = groupBuckets[0]?.ref;
          if (ref !== undefined) {
            const key = activityKey(ref.account, ref.region, ref.bucket);
            const slots = this.#slotsMs.get(key) ?? [];
            this.#slotsMs.set(key, slots);
            for (const d of outcome.decisions) if (d.kind === 'admitted') slots.push(d.runAtMs);
            const admitted = outcome.decisions.find((d) => d.kind === 'admitted');
            const limit = groupBuckets[0]?.limit;
            if (admitted !== undefined && limit !== undefined) {
              this.#learnedRate.set(key, limit.rate * (admitted.fractions[0] ?? 1));
            }
          }
          return outcome;
        },
        checkIn: async (reservations, commit) => {
          const outcome = await buckets.checkIn(reservations, commit);
          // A slowed bucket's backlog runs on check-ins: its rate changes show there too.
          reservations.forEach((r, i) => {
            const result = outcome.results[i];
            const ref = r.buckets[0]?.ref;
            const limit = r.buckets[0]?.limit;
            if (result === undefined || result.kind === 'lost' || !ref || !limit) return;
            const key = activityKey(ref.account, ref.region, ref.bucket);
            this.#learnedRate.set(key, limit.rate * (result.fractions[0] ?? 1));
          });
          return outcome;
        },
        reportThrottle: (bucket, epoch, retryAfterMs) =>
          buckets.reportThrottle(bucket, epoch, retryAfterMs),
      },
      runner: {
        check: (call) => runner.check(call),
        isSafeToRepeat: (call) => runner.isSafeToRepeat(call),
        timeoutsOf: (service) => runner.timeoutsOf(service),
        outcomeCheckOf: (call) => runner.outcomeCheckOf(call),
        readBack: (request) => runner.readBack(request),
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
          } catch (error) {
            if (classifyCallError(error).kind === 'throttled') this.#throttles++;
            throw error;
          } finally {
            this.#running.set(key, this.running(key) - 1);
          }
        },
      },
    };
  }
}
