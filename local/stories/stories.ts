/**
 * The two seed stories of issue 15 as benchmark scenarios, run by `npm run bench:e2e -- --scenario
 * provisioner|planner` and `npm start -- --scenario provisioner|planner`: each a workload (a
 * {@link Scenario} of local/workload.ts), the deployment configuration it needs, and its targets,
 * checked against a run.
 *
 * - `provisioner`: a node provisioner validates its launch template with `RunInstances` DryRun
 *   checks before real launches — 50 checks (each for 10 instances) and 50 launches of one
 *   instance, interleaved, on one account and region at EC2's limits. A check draws one request
 *   token and no instance tokens, and succeeds with `dryRun: true`.
 * - `planner`: a GPU-cloud orchestrator plans 50 runs at once, each listing the quotas of 4
 *   services in 3 regions (600 requests, 12 distinct calls), at Service Quotas' limits, with
 *   `ListServiceQuotas` cached for 300 s. Identical reads share one call; the uncoordinated peers
 *   (`--compare`) make all 600 and lose some: a plan missing any of its quotas has "no offers".
 */
import type { DeploymentConfigInput } from '../../shared/config/deployment.js';
import { callFingerprint } from '../../shared/requests/fingerprint.js';
import { activityKey } from '../activity.js';
import type { LocalStack } from '../stack.js';
import type { RunFinish, RunOutcome, Scenario, Workload } from '../workload.js';

/** One target of a story, and whether a run met it. */
export interface StoryCheck {
  readonly target: string;
  readonly met: boolean;
  /** What the run measured. */
  readonly measured: string;
  /** A target on time (drain): for benchmarks, on a quiet machine; tests leave it out. */
  readonly timed?: true;
}

/** A run of a story's workload: its outcome, every request that finished, and the stack (Sluice). */
export interface StoryRun {
  readonly workload: Workload;
  readonly outcome: RunOutcome;
  readonly finishes: readonly RunFinish[];
  /** The local stack it ran through; absent for the uncoordinated peers. */
  readonly stack?: LocalStack;
}

/** A seed story: its workload, configuration and targets. */
export interface Story extends Scenario {
  /** Deployment configuration beyond the limits: the result cache. */
  readonly config: Pick<DeploymentConfigInput, 'reads'>;
  /** The story's own figures of a run (Sluice's or the peers'). */
  figures(run: StoryRun): Readonly<Record<string, number>>;
  /** Its targets, checked against a Sluice run and its figures. */
  checks(outcome: RunOutcome, figures: Readonly<Record<string, number>>): StoryCheck[];
}

const ACCOUNT = '111111111111';
const IMAGE = 'ami-0provisioner0';

/** A DryRun check of the launch template, for 10 instances: EC2 answers whether it would run. */
const CHECK = {
  ImageId: IMAGE,
  InstanceType: 'g5.xlarge',
  MinCount: 1,
  MaxCount: 10,
  DryRun: true,
};
/** A launch of one instance. */
const LAUNCH = { ImageId: IMAGE, InstanceType: 'g5.xlarge', MinCount: 1, MaxCount: 1 };

/** Plans at once in the planner story. */
const PLANS = 50;
/** The services each plan lists the quotas of (in each region). */
const PLANNED_SERVICES = ['ec2', 'vpc', 'lambda', 'ebs'] as const;
const PLANNER_REGIONS = ['us-east-1', 'eu-west-1', 'us-west-2'] as const;

/** The index of a workload request within its call kind (account, region): its id's last part. */
function indexOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

function check(target: string, met: boolean, measured: string | number): StoryCheck {
  return { target, met, measured: String(measured) };
}

/** Every request succeeded. */
function allSucceeded(outcome: RunOutcome): StoryCheck {
  const { completed, total } = outcome;
  return check(`${total}/${total} succeeded`, completed === total, `${completed}/${total}`);
}

/** Drain over the provider's ideal, as `figures` of local/workload.ts computes it. */
function drainRatio(outcome: RunOutcome): number {
  return outcome.idealSeconds > 0 ? outcome.drainSeconds / outcome.idealSeconds : 0;
}

const provisioner: Story = {
  description:
    'a node provisioner: 50 RunInstances DryRun checks (10 instances each) and 50 launches of 1, interleaved, at EC2 limits',
  accounts: [ACCOUNT],
  regions: ['us-east-1'],
  // Two kinds of the same bucket: the workload interleaves them, check, launch, check …
  storm: [
    { service: 'ec2', operation: 'RunInstances', input: CHECK, count: 50, priority: 'normal' },
    { service: 'ec2', operation: 'RunInstances', input: LAUNCH, count: 50, priority: 'normal' },
  ],
  clientsPerTarget: 8,
  config: {},
  figures({ finishes, stack }) {
    let instancesLaunched = 0;
    for (const { result } of finishes) {
      if (result?.status !== 'succeeded' || result.dryRun) continue;
      // A launch's output is small: inline, never in S3 (`outputRef`).
      const instances = result.output?.Instances;
      instancesLaunched += Array.isArray(instances) ? instances.length : 0;
    }
    const resource = { account: ACCOUNT, region: 'us-east-1', bucket: 'RunInstances:resource' };
    return {
      ...(stack === undefined
        ? {}
        : {
            instancesLaunched,
            resourceTokensDebited: stack.activity.debited(
              activityKey(resource.account, resource.region, resource.bucket),
            ),
            providerResourceTokensDebited:
              stack.simulator?.bucketDebits({ ...resource, service: 'ec2' }) ?? 0,
          }),
    };
  },
  checks(outcome, figures) {
    const ratio = drainRatio(outcome);
    const launched = figures.instancesLaunched ?? 0;
    // Half the calls are checks, the others launch one instance each.
    const checksSent = outcome.total / 2;
    return [
      allSucceeded(outcome),
      check(
        `${checksSent} DryRuns succeeded with dryRun: true`,
        outcome.dryRuns === checksSent,
        outcome.dryRuns,
      ),
      check('0 provider throttles', outcome.providerThrottles === 0, outcome.providerThrottles),
      check('0 duplicates', outcome.duplicates === 0, outcome.duplicates),
      { ...check('drain ≤ 1.05 × ideal', ratio <= 1.05, ratio.toFixed(3)), timed: true },
      check(
        'resource tokens debited = instances launched (coordinator and provider)',
        launched === outcome.total - checksSent &&
          figures.resourceTokensDebited === launched &&
          figures.providerResourceTokensDebited === launched,
        `${figures.resourceTokensDebited} / ${figures.providerResourceTokensDebited} for ${launched}`,
      ),
    ];
  },
};

const planner: Story = {
  description:
    'a GPU-cloud planner: 50 plans at once, each listing quotas of 4 services in 3 regions (600 requests, 12 distinct calls), ListServiceQuotas cached 300 s',
  accounts: [ACCOUNT],
  regions: PLANNER_REGIONS,
  // Per region, one kind per service: its `i`-th call is plan `i`'s.
  storm: PLANNED_SERVICES.map((code) => ({
    service: 'service-quotas' as const,
    operation: 'ListServiceQuotas',
    input: { ServiceCode: code },
    count: PLANS,
  })),
  clientsPerTarget: PLANS,
  config: {
    reads: {
      cache: [{ service: 'service-quotas', operations: ['ListServiceQuotas'], cacheSeconds: 300 }],
    },
  },
  figures({ workload, finishes }) {
    // A plan is missing an offer when any of its quotas, in any region, could not be read.
    const plansWithoutOffers = new Set(
      finishes.filter((f) => !f.ok).map((f) => indexOf(f.id) % PLANS),
    ).size;
    return {
      distinctCalls: new Set(workload.requests.map(callFingerprint)).size,
      plansWithoutOffers,
    };
  },
  checks(outcome, figures) {
    const distinct = figures.distinctCalls ?? 0;
    return [
      allSucceeded(outcome),
      check(
        `provider calls ≤ ${distinct} (one per distinct call)`,
        outcome.providerCalls <= distinct,
        outcome.providerCalls,
      ),
      check('0 provider throttles', outcome.providerThrottles === 0, outcome.providerThrottles),
      check(
        'every plan has its offers',
        figures.plansWithoutOffers === 0,
        figures.plansWithoutOffers ?? 0,
      ),
    ];
  },
};

/** The seed stories, by scenario name. */
export const STORIES = { provisioner, planner } as const satisfies Record<string, Story>;

/** A story's name. */
export type StoryName = keyof typeof STORIES;

/** The story of that name, if it is one. */
export function storyNamed(name: string): Story | undefined {
  return (STORIES as Record<string, Story>)[name];
}
