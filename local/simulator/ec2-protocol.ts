/**
 * EC2's Query protocol, both ways: decoding form-urlencoded parameters
 * (`Action=RunInstances&Version=2016-11-15&Filter.1.Name=…`) into nested input, and rendering
 * XML answers and EC2's error document, which the SDK's `ec2Query` deserialiser reads exactly as
 * it reads EC2's. Throttling is HTTP 503 `RequestLimitExceeded`.
 */
import { isRecord } from '../../shared/util/objects.js';
import type { Answer, ProtocolCodec } from './call.js';
import { ProviderError } from './errors.js';

/** EC2's Query API version the SDK sends, and the namespace of its answers. */
const EC2_VERSION = '2016-11-15';
const EC2_XMLNS = `http://ec2.amazonaws.com/doc/${EC2_VERSION}/`;

// -- decoding -------------------------------------------------------------------------------

/**
 * EC2 Query parameters nested by their dotted names: `Filter.1.Name=a&Filter.1.Value.1=b` →
 * `{ Filter: [{ Name: 'a', Value: ['b'] }] }`. Numeric segments (1-based) become arrays in index
 * order; values stay strings, as on the wire.
 */
export function nestQueryParams(params: URLSearchParams): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [name, value] of params) {
    if (name === 'Action' || name === 'Version') continue;
    const parts = name.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      const next = node[part];
      if (isRecord(next)) {
        node = next;
      } else {
        const created: Record<string, unknown> = {};
        node[part] = created;
        node = created;
      }
    }
    node[parts[parts.length - 1] as string] = value;
  }
  return arraysFromIndices(root) as Record<string, unknown>;
}

function arraysFromIndices(value: unknown): unknown {
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => arraysFromIndices(value[k]));
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = arraysFromIndices(value[k]);
  return out;
}

/**
 * The call's input as the limits catalog reads it: SDK member names and types (`InstanceIds`,
 * `Filters`, a numeric `MaxCount`) from the nested wire names.
 */
export function ec2SdkInput(input: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input.MaxCount !== undefined) {
    const n = Number(input.MaxCount);
    out.MaxCount = Number.isFinite(n) ? n : input.MaxCount;
  }
  if (input.InstanceId !== undefined) out.InstanceIds = input.InstanceId;
  if (input.Filter !== undefined) out.Filters = input.Filter;
  if (input.MaxResults !== undefined) out.MaxResults = input.MaxResults;
  if (input.NextToken !== undefined) out.NextToken = input.NextToken;
  // A DryRun draws on no resource bucket (it launches nothing): the catalog reads the flag.
  if (input.DryRun !== undefined) out.DryRun = input.DryRun === 'true';
  return out;
}

/** The strings of a nested list parameter (`InstanceId.N`); a single value is a list of one. */
export function stringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The structures of a nested list parameter (`Filter.N`, `Tag.N`). */
export function recordList(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** Key/value pairs of a `Tag.N.Key` / `Tag.N.Value` list; a missing value is `''`, as at EC2. */
export function tagPairs(value: unknown): [string, string][] {
  return recordList(value)
    .filter((t) => typeof t.Key === 'string')
    .map((t) => [t.Key as string, typeof t.Value === 'string' ? t.Value : '']);
}

/** Tags of `TagSpecification.N` entries for a resource type. */
export function tagsFor(
  input: Readonly<Record<string, unknown>>,
  resourceType: string,
): [string, string][] {
  return recordList(input.TagSpecification)
    .filter((spec) => spec.ResourceType === resourceType)
    .flatMap((spec) => tagPairs(spec.Tag));
}

/**
 * EC2's answer to a call whose cost parameter (`MaxCount`, `InstanceId.N`) is unusable:
 * `MissingParameter` when absent, `InvalidParameterValue` when malformed.
 */
export function missingOrInvalid(
  params: URLSearchParams,
  field: 'MaxCount' | 'InstanceId',
): ProviderError {
  const present = field === 'MaxCount' ? params.has('MaxCount') : params.has('InstanceId.1');
  return present
    ? new ProviderError('InvalidParameterValue', `Invalid value for parameter ${field}`)
    : new ProviderError('MissingParameter', `The request must contain the parameter ${field}`);
}

// -- answers --------------------------------------------------------------------------------

/** Escapes text for XML element content and attribute values. */
export function esc(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A successful (200) answer with an XML document. */
export function xmlAnswer(body: string, requestId: string): Answer {
  return { status: 200, headers: ec2Headers(requestId), body };
}

/** Also in a header, where the SDK looks for `$metadata.requestId`. */
function ec2Headers(requestId: string): Record<string, string> {
  return { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId };
}

/** EC2's success document: `<{element} xmlns=…><requestId>…</requestId>{inner}</{element}>`. */
export function ec2Response(element: string, requestId: string, inner: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${element} xmlns="${EC2_XMLNS}">` +
    `<requestId>${requestId}</requestId>${inner}</${element}>`
  );
}

/** EC2's answer to actions that return only a flag (`CreateTags`, `DeleteKeyPair` …). */
export function ec2Generic(action: string, requestId: string): string {
  return ec2Response(`${action}Response`, requestId, '<return>true</return>');
}

/** EC2's error document: `<Response><Errors><Error>…</Error></Errors><RequestID>…`. */
export function ec2Error(
  error: ProviderError,
  requestId: string,
  retryAfterSeconds?: number,
): Answer {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>' +
    `<Code>${esc(error.code)}</Code><Message>${esc(error.message)}</Message>` +
    `</Error></Errors><RequestID>${requestId}</RequestID></Response>`;
  return {
    status: error.status,
    headers: {
      ...ec2Headers(requestId),
      ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    },
    body,
  };
}

/** EC2's errors and throttling (HTTP 503 `RequestLimitExceeded`). */
export const EC2_CODEC: ProtocolCodec = {
  error: (error, requestId) => ec2Error(error, requestId),
  throttled: (requestId, retryAfterSeconds) =>
    ec2Error(
      new ProviderError('RequestLimitExceeded', 'Request limit exceeded.', 503),
      requestId,
      retryAfterSeconds,
    ),
};
