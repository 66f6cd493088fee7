/**
 * The simulated EC2's instances, per account and region: a small state machine. RunInstances
 * launches (`pending`, then `running` at once), DescribeInstances reads with EC2's filters,
 * CreateTags and DeleteTags tag (instances, and any other resource id, kept apart), DescribeTags
 * lists tags with EC2's filters, Stop/Start/TerminateInstances move between states. Any other
 * action succeeds with EC2's generic answer and changes nothing. Answers are rendered here, as
 * EC2's XML.
 */
import type { SimCall } from './call.js';
import { ec2Generic, ec2Response, esc, recordList, stringList, tagsFor } from './ec2-protocol.js';
import { deleteTag, filterTags, type TagRow, tagRows, tagSetXml } from './ec2-tags.js';
import { DRY_RUN_OPERATION, ProviderError } from './errors.js';

/** Renders a call's XML answer for a request id (a replay gets a new id, the same content). */
export type Render = (requestId: string) => string;

type InstanceStateName =
  | 'pending'
  | 'running'
  | 'shutting-down'
  | 'terminated'
  | 'stopping'
  | 'stopped';

const STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

interface SimInstance {
  readonly instanceId: string;
  readonly reservationId: string;
  readonly imageId: string;
  readonly instanceType: string;
  readonly launchTime: string;
  readonly launchIndex: number;
  readonly availabilityZone: string;
  readonly ownerId: string;
  readonly clientToken?: string;
  state: InstanceStateName;
  readonly tags: Map<string, string>;
}

/** Instances of every account and region, in memory. */
export class Ec2Instances {
  /** `account\nregion` → instance id → instance. */
  private readonly instances = new Map<string, Map<string, SimInstance>>();
  /** `account\nregion` → resource id → tags, for resources that are not simulated instances. */
  private readonly otherTags = new Map<string, Map<string, Map<string, string>>>();
  private nextId = 1;

  /**
   * Runs an admitted call; returns how to render its answer (kept for `ClientToken` replays).
   * @throws {ProviderError} `DryRunOperation` (412) for a DryRun, EC2's validation errors, or
   *   `InvalidInstanceID.NotFound`.
   */
  execute(
    call: SimCall,
    params: URLSearchParams,
    clientToken: string | undefined,
    nowMs: number,
  ): Render {
    if (params.get('DryRun') === 'true') {
      // EC2 checks the request as it would run it, then answers a DryRun that would have
      // succeeded with an error, 412. (Permissions are checked before: simulator.ts.)
      if (call.action === 'RunInstances') launchCount(params);
      throw new ProviderError(
        DRY_RUN_OPERATION,
        'Request would have succeeded, but DryRun flag is set.',
      );
    }
    switch (call.action) {
      case 'RunInstances':
        return this.runInstances(call, params, clientToken, nowMs);
      case 'DescribeInstances':
        return this.describeInstances(call);
      case 'TerminateInstances':
        return this.changeStates(call, 'TerminateInstancesResponse', (from) =>
          from === 'terminated' ? ['terminated', 'terminated'] : ['shutting-down', 'terminated'],
        );
      case 'StopInstances':
        return this.changeStates(call, 'StopInstancesResponse', (from) =>
          from === 'pending' || from === 'running' ? ['stopping', 'stopped'] : [from, from],
        );
      case 'StartInstances':
        return this.changeStates(call, 'StartInstancesResponse', (from) =>
          from === 'stopped' || from === 'stopping' ? ['pending', 'running'] : [from, from],
        );
      case 'CreateTags':
        return this.changeTags(call, 'CreateTags', (tags, [key, value]) =>
          tags.set(key, value ?? ''),
        );
      case 'DeleteTags':
        return this.changeTags(call, 'DeleteTags', deleteTag(recordList(call.input.Tag).length));
      case 'DescribeTags':
        return this.describeTags(call);
      default:
        return (requestId) => ec2Generic(call.action, requestId);
    }
  }

  /** No instances; ids keep counting, so an id is never reused. */
  clear(): void {
    this.instances.clear();
    this.otherTags.clear();
  }

  private runInstances(
    call: SimCall,
    params: URLSearchParams,
    clientToken: string | undefined,
    nowMs: number,
  ): Render {
    const maxCount = launchCount(params);
    const store = this.instancesOf(call);
    const reservationId = `r-${this.id()}`;
    const tags = tagsFor(call.input, 'instance');
    const launched: SimInstance[] = [];
    for (let i = 0; i < maxCount; i++) {
      const instance: SimInstance = {
        instanceId: `i-${this.id()}`,
        reservationId,
        imageId: params.get('ImageId') ?? 'ami-00000000000000000',
        instanceType: params.get('InstanceType') ?? 'm1.small',
        launchTime: new Date(nowMs).toISOString(),
        launchIndex: i,
        availabilityZone: params.get('Placement.AvailabilityZone') ?? `${call.region}a`,
        ownerId: call.account,
        ...(clientToken ? { clientToken } : {}),
        state: 'pending',
        tags: new Map(tags),
      };
      launched.push(instance);
      store.set(instance.instanceId, instance);
    }
    // The answer shows the instances as launched (pending); state changes happen at once, so a
    // later Describe sees them running.
    const snapshot = launched.map((instance) =>
      instanceXml({ ...instance, tags: new Map(instance.tags) }),
    );
    for (const instance of launched) instance.state = 'running';
    return (requestId) =>
      ec2Response(
        'RunInstancesResponse',
        requestId,
        `<reservationId>${reservationId}</reservationId><ownerId>${esc(call.account)}</ownerId>` +
          `<groupSet/><instancesSet>${snapshot.join('')}</instancesSet>`,
      );
  }

  private describeInstances(call: SimCall): Render {
    const store = this.instancesOf(call);
    const ids = stringList(call.input.InstanceId);
    let selected: SimInstance[];
    if (ids.length > 0) {
      const missing = ids.filter((id) => !store.has(id));
      if (missing.length > 0) throw notFound(missing);
      selected = ids.map((id) => store.get(id)).filter((i): i is SimInstance => i !== undefined);
    } else {
      selected = [...store.values()];
    }
    for (const filter of recordList(call.input.Filter)) {
      const name = typeof filter.Name === 'string' ? filter.Name : '';
      const values = new Set(stringList(filter.Value));
      selected = selected.filter((instance) => filterMatches(instance, name, values));
    }
    // Grouped by reservation as EC2 does; no pagination (all in one page).
    const byReservation = new Map<string, SimInstance[]>();
    for (const instance of selected) {
      const group = byReservation.get(instance.reservationId) ?? [];
      group.push(instance);
      byReservation.set(instance.reservationId, group);
    }
    const reservations = [...byReservation].map(
      ([reservationId, group]) =>
        `<item><reservationId>${reservationId}</reservationId><ownerId>${esc(call.account)}</ownerId>` +
        `<groupSet/><instancesSet>${group.map(instanceXml).join('')}</instancesSet></item>`,
    );
    const xml = `<reservationSet>${reservations.join('')}</reservationSet>`;
    return (requestId) => ec2Response('DescribeInstancesResponse', requestId, xml);
  }

  private changeStates(
    call: SimCall,
    element: string,
    transition: (from: InstanceStateName) => [shown: InstanceStateName, stored: InstanceStateName],
  ): Render {
    const store = this.instancesOf(call);
    const ids = stringList(call.input.InstanceId);
    const missing = ids.filter((id) => !store.has(id));
    if (missing.length > 0) throw notFound(missing);
    const items = ids.map((id) => {
      const instance = store.get(id) as SimInstance;
      const previous = instance.state;
      const [shown, stored] = transition(previous);
      instance.state = stored;
      return (
        `<item><instanceId>${esc(id)}</instanceId>` +
        `<currentState>${stateXml(shown)}</currentState>` +
        `<previousState>${stateXml(previous)}</previousState></item>`
      );
    });
    const xml = `<instancesSet>${items.join('')}</instancesSet>`;
    return (requestId) => ec2Response(element, requestId, xml);
  }

  /** CreateTags / DeleteTags: `change` applies each tag pair of the call to each resource. */
  private changeTags(
    call: SimCall,
    action: string,
    change: (tags: Map<string, string>, pair: [string, string | undefined]) => void,
  ): Render {
    const pairs: [string, string | undefined][] = recordList(call.input.Tag).map((tag) => [
      typeof tag.Key === 'string' ? tag.Key : '',
      typeof tag.Value === 'string' ? tag.Value : undefined,
    ]);
    for (const id of stringList(call.input.ResourceId)) {
      const tags = this.tagsOf(call, id);
      // DeleteTags without tags deletes every user tag: one pass with no pair does it.
      for (const pair of pairs.length > 0 ? pairs : [['', undefined] as [string, undefined]]) {
        change(tags, pair);
      }
    }
    return (requestId) => ec2Generic(action, requestId);
  }

  /** DescribeTags with the `resource-id`, `resource-type`, `key` and `value` filters; one page. */
  private describeTags(call: SimCall): Render {
    const rows: TagRow[] = [];
    for (const [id, instance] of this.instancesOf(call)) rows.push(...tagRows(id, instance.tags));
    for (const [id, tags] of this.otherTagsOf(call)) rows.push(...tagRows(id, tags));
    const xml = tagSetXml(filterTags(rows, recordList(call.input.Filter)));
    return (requestId) => ec2Response('DescribeTagsResponse', requestId, xml);
  }

  /** The tags of a resource: an instance's own, or those kept for any other id. */
  private tagsOf(call: SimCall, id: string): Map<string, string> {
    return this.instancesOf(call).get(id)?.tags ?? entryOf(this.otherTagsOf(call), id);
  }

  private otherTagsOf(call: SimCall): Map<string, Map<string, string>> {
    return entryOf(this.otherTags, `${call.account}\n${call.region}`);
  }

  private instancesOf(call: SimCall): Map<string, SimInstance> {
    return entryOf(this.instances, `${call.account}\n${call.region}`);
  }

  /** 17 hex digits, as EC2's ids have; sequential so tests can predict them. */
  private id(): string {
    return (this.nextId++).toString(16).padStart(17, '0');
  }
}

/**
 * How many instances RunInstances launches (all of `MaxCount`: capacity never runs short here),
 * after EC2's check of the counts, which a DryRun passes too.
 * @throws {ProviderError} `InvalidParameterValue` when `MinCount` is not within 1 … `MaxCount`.
 */
function launchCount(params: URLSearchParams): number {
  const maxCount = Number(params.get('MaxCount'));
  const minCount = params.has('MinCount') ? Number(params.get('MinCount')) : maxCount;
  if (!Number.isSafeInteger(minCount) || minCount < 1 || minCount > maxCount) {
    throw new ProviderError(
      'InvalidParameterValue',
      `Value (${params.get('MinCount')}) for parameter minCount is invalid. Expected a positive number not greater than maxCount.`,
    );
  }
  return maxCount;
}

function filterMatches(instance: SimInstance, name: string, values: ReadonlySet<string>): boolean {
  if (name === 'instance-id') return values.has(instance.instanceId);
  if (name === 'instance-state-name') return values.has(instance.state);
  if (name === 'instance-type') return values.has(instance.instanceType);
  if (name === 'tag-key') return [...instance.tags.keys()].some((k) => values.has(k));
  if (name.startsWith('tag:')) {
    const value = instance.tags.get(name.slice(4));
    return value !== undefined && values.has(value);
  }
  // EC2 rejects filter names it does not know; silently ignoring one would match too much.
  throw new ProviderError('InvalidParameterValue', `The filter '${name}' is invalid`);
}

function notFound(ids: readonly string[]): ProviderError {
  const list = ids.join(', ');
  return new ProviderError(
    'InvalidInstanceID.NotFound',
    ids.length === 1
      ? `The instance ID '${list}' does not exist`
      : `The instance IDs '${list}' do not exist`,
  );
}

function stateXml(state: InstanceStateName): string {
  return `<code>${STATE_CODES[state]}</code><name>${state}</name>`;
}

function instanceXml(instance: SimInstance): string {
  const tags = [...instance.tags]
    .map(([k, v]) => `<item><key>${esc(k)}</key><value>${esc(v)}</value></item>`)
    .join('');
  return (
    `<item><instanceId>${instance.instanceId}</instanceId>` +
    `<imageId>${esc(instance.imageId)}</imageId>` +
    `<instanceState>${stateXml(instance.state)}</instanceState>` +
    `<amiLaunchIndex>${instance.launchIndex}</amiLaunchIndex>` +
    `<instanceType>${esc(instance.instanceType)}</instanceType>` +
    `<launchTime>${instance.launchTime}</launchTime>` +
    `<placement><availabilityZone>${esc(instance.availabilityZone)}</availabilityZone></placement>` +
    (instance.clientToken === undefined
      ? ''
      : `<clientToken>${esc(instance.clientToken)}</clientToken>`) +
    (tags === '' ? '' : `<tagSet>${tags}</tagSet>`) +
    '</item>'
  );
}

/** The map kept under `key`, made empty the first time. */
function entryOf<K, V>(maps: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let entry = maps.get(key);
  if (entry === undefined) {
    entry = new Map();
    maps.set(key, entry);
  }
  return entry;
}
