import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PRIORITY,
  deadlineMs,
  describeProblems,
  effectiveMaxAttempts,
  effectivePriority,
  MAX_JSON_DEPTH,
  MAX_MESSAGE_BYTES,
  MAX_REQUEST_BYTES,
  MAX_TAGS,
  type ParseResult,
  type Problem,
  parseRequest,
  type SluiceRequest,
  validateRequest,
} from '../../../shared/contract/index.js';

type Message = Record<string, unknown>;

/** The smallest valid message; a fresh object each time so tests can mutate it. */
function minimal(): Message {
  return {
    v: 1,
    id: 'order-42:launch',
    target: { account: '123456789012', region: 'us-east-1' },
    call: { service: 'ec2', operation: 'DescribeInstances', input: {} },
  };
}

/** A valid message using every optional field. */
function full(): Message {
  return {
    v: 1,
    id: 'batch_7.item-3:retry',
    target: { account: '000000000001', region: 'us-gov-west-1' },
    call: {
      service: 'service-quotas',
      operation: 'ListServiceQuotas',
      input: { ServiceCode: 'ec2', MaxResults: 100, Filters: [{ Name: 'x', Values: ['a', 'b'] }] },
    },
    priority: 'high',
    deadline: '2030-01-31T12:00:00.250+05:30',
    maxAttempts: 100,
    replyTo: 'https://sqs.us-gov-west-1.amazonaws.com/000000000001/sluice-replies',
    tags: { owner: 'platform', 'aws:cloudformation:stack-name': 'prod' },
  };
}

function problemsOf(result: ParseResult): readonly Problem[] {
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.request)}`);
  return result.problems;
}

/** The (field, rule) pairs of a result, which is what a program reading a rejection relies on. */
function fieldRules(result: ParseResult): string[][] {
  return problemsOf(result).map((p) => [p.field, p.rule]);
}

/** A valid message whose JSON is exactly `bytes` UTF-8 bytes, padded with `pad` characters. */
function bodyOfBytes(bytes: number, pad = 'x'): string {
  const message = minimal();
  const call = message.call as { input: Record<string, unknown> };
  call.input = { Padding: '' };
  const base = Buffer.byteLength(JSON.stringify(message), 'utf8');
  const padBytes = Buffer.byteLength(pad, 'utf8');
  const count = Math.floor((bytes - base) / padBytes);
  const rest = bytes - base - count * padBytes;
  call.input = { Padding: pad.repeat(count) + 'x'.repeat(rest) };
  return JSON.stringify(message);
}

describe('parseRequest accepts valid messages', () => {
  it('accepts a minimal message and returns it unchanged, with no defaults filled in', () => {
    const result = parseRequest(JSON.stringify(minimal()));

    expect(result).toEqual({ ok: true, request: minimal() });
  });

  it('accepts a message using every optional field', () => {
    const result = parseRequest(JSON.stringify(full()));

    expect(result).toEqual({ ok: true, request: full() });
  });

  it.each([
    'us-east-1',
    'eu-west-2',
    'us-gov-west-1',
    'ap-southeast-3',
    'cn-north-1',
    'cn-northwest-1',
    'us-isob-east-1',
    'eusc-de-east-1',
  ])('accepts the region %s', (region) => {
    const message = { ...minimal(), target: { account: '123456789012', region } };

    expect(validateRequest(message).ok).toBe(true);
  });

  it('accepts the limits exactly: 128-char id, 20 tags, 128-char tag key, 256-char tag value', () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i < MAX_TAGS - 1; i++) tags[`t${i}`] = 'v';
    tags['k'.repeat(128)] = 'v'.repeat(256);
    const message = { ...minimal(), id: 'a'.repeat(128), tags, maxAttempts: 1 };

    expect(validateRequest(message).ok).toBe(true);
  });

  it('accepts an http replyTo, as used with the local SQS emulator', () => {
    const message = { ...minimal(), replyTo: 'http://127.0.0.1:4566/000000000000/replies' };

    expect(validateRequest(message).ok).toBe(true);
  });

  it('accepts an SNS topic ARN as replyTo, standard or FIFO, in any partition', () => {
    for (const replyTo of [
      'arn:aws:sns:eu-west-1:123456789012:results',
      'arn:aws:sns:us-east-1:123456789012:results.fifo',
      'arn:aws-us-gov:sns:us-gov-west-1:123456789012:results',
    ]) {
      expect(validateRequest({ ...minimal(), replyTo }).ok, replyTo).toBe(true);
    }
  });

  it('says what an SNS topic ARN must look like when replyTo is a malformed ARN', () => {
    const parsed = validateRequest({ ...minimal(), replyTo: 'arn:aws:sns:eu-west-1:1234:results' });

    expect(parsed.ok ? [] : parsed.problems).toEqual([
      {
        field: 'replyTo',
        rule: 'pattern',
        message:
          'replyTo: must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:results (topic names: letters, digits, - and _, optionally ending in .fifo) (pattern)',
      },
    ]);
  });

  it('accepts a body of exactly MAX_REQUEST_BYTES: 1 MiB less 8 KiB for the envelope', () => {
    const body = bodyOfBytes(MAX_REQUEST_BYTES);

    expect(MAX_REQUEST_BYTES).toBe(MAX_MESSAGE_BYTES - 8_192);
    expect(Buffer.byteLength(body, 'utf8')).toBe(MAX_REQUEST_BYTES);
    expect(parseRequest(body).ok).toBe(true);
  });

  it('returns the very input object passed to validateRequest, not a copy', () => {
    const message = minimal();
    const result = validateRequest(message);

    expect(result.ok && result.request.call.input).toBe((message.call as { input: object }).input);
  });
});

describe('defaults are applied by helpers, not by the schema', () => {
  const parsed = (message: Message): SluiceRequest => {
    const result = validateRequest(message);
    if (!result.ok) throw new Error(describeProblems(result.problems));
    return result.request;
  };

  it('gives priority normal and 10 attempts when the message says nothing', () => {
    const request = parsed(minimal());

    expect(request.priority).toBeUndefined();
    expect(effectivePriority(request)).toBe('normal');
    expect(DEFAULT_PRIORITY).toBe('normal');
    expect(effectiveMaxAttempts(request)).toBe(10);
    expect(DEFAULT_MAX_ATTEMPTS).toBe(10);
    expect(deadlineMs(request)).toBeUndefined();
  });

  it('uses the priority, attempts and deadline the message gives', () => {
    const request = parsed(full());

    expect(effectivePriority(request)).toBe('high');
    expect(effectiveMaxAttempts(request)).toBe(100);
    // 12:00:00.250 at +05:30 is 06:30:00.250 UTC.
    expect(deadlineMs(request)).toBe(Date.UTC(2030, 0, 31, 6, 30, 0, 250));
  });
});

describe('each field rule reports its field and rule', () => {
  const cases: [string, (m: Message) => void, string, string][] = [
    ['v missing', (m) => delete m.v, 'v', 'required'],
    ['id missing', (m) => delete m.id, 'id', 'required'],
    ['id not a string', (m) => (m.id = 42), 'id', 'type'],
    ['id empty', (m) => (m.id = ''), 'id', 'length'],
    ['id of 129 chars', (m) => (m.id = 'a'.repeat(129)), 'id', 'length'],
    ['id with #', (m) => (m.id = 'order#42'), 'id', 'pattern'],
    ['id with a space', (m) => (m.id = 'order 42'), 'id', 'pattern'],
    ['target missing', (m) => delete m.target, 'target', 'required'],
    ['target a string', (m) => (m.target = '123456789012'), 'target', 'type'],
    [
      'account of 11 digits',
      (m) => (m.target = { account: '12345678901', region: 'us-east-1' }),
      'target.account',
      'pattern',
    ],
    [
      'account with letters',
      (m) => (m.target = { account: '12345678901a', region: 'us-east-1' }),
      'target.account',
      'pattern',
    ],
    [
      'account a number',
      (m) => (m.target = { account: 123456789012, region: 'us-east-1' }),
      'target.account',
      'type',
    ],
    ['account missing', (m) => (m.target = { region: 'us-east-1' }), 'target.account', 'required'],
    [
      'region in capitals',
      (m) => (m.target = { account: '123456789012', region: 'US-EAST-1' }),
      'target.region',
      'pattern',
    ],
    [
      'region without number',
      (m) => (m.target = { account: '123456789012', region: 'us-east' }),
      'target.region',
      'pattern',
    ],
    [
      'region with #',
      (m) => (m.target = { account: '123456789012', region: 'us-east-1#x' }),
      'target.region',
      'pattern',
    ],
    [
      'unknown field in target',
      (m) => (m.target = { account: '123456789012', region: 'us-east-1', zone: 'a' }),
      'target.zone',
      'unknown-field',
    ],
    ['call missing', (m) => delete m.call, 'call', 'required'],
    [
      'service in capitals',
      (m) => (m.call = { service: 'EC2', operation: 'RunInstances', input: {} }),
      'call.service',
      'pattern',
    ],
    [
      'service of one letter',
      (m) => (m.call = { service: 'e', operation: 'RunInstances', input: {} }),
      'call.service',
      'pattern',
    ],
    [
      'operation in camelCase',
      (m) => (m.call = { service: 'ec2', operation: 'runInstances', input: {} }),
      'call.operation',
      'pattern',
    ],
    [
      'operation with a slash',
      (m) => (m.call = { service: 'ec2', operation: 'Run/Instances', input: {} }),
      'call.operation',
      'pattern',
    ],
    [
      'input missing',
      (m) => (m.call = { service: 'ec2', operation: 'RunInstances' }),
      'call.input',
      'required',
    ],
    [
      'input an array',
      (m) => (m.call = { service: 'ec2', operation: 'RunInstances', input: [] }),
      'call.input',
      'type',
    ],
    [
      'input null',
      (m) => (m.call = { service: 'ec2', operation: 'RunInstances', input: null }),
      'call.input',
      'type',
    ],
    [
      'unknown field in call',
      (m) => (m.call = { service: 'ec2', operation: 'RunInstances', input: {}, region: 'x' }),
      'call.region',
      'unknown-field',
    ],
    ['priority not in the list', (m) => (m.priority = 'urgent'), 'priority', 'enum'],
    ['deadline without offset', (m) => (m.deadline = '2030-01-31T12:00:00'), 'deadline', 'format'],
    [
      'deadline on a day that does not exist',
      (m) => (m.deadline = '2030-02-30T12:00:00Z'),
      'deadline',
      'format',
    ],
    ['deadline a date only', (m) => (m.deadline = '2030-01-31'), 'deadline', 'format'],
    ['deadline epoch ms', (m) => (m.deadline = 1_900_000_000_000), 'deadline', 'type'],
    ['maxAttempts 0', (m) => (m.maxAttempts = 0), 'maxAttempts', 'range'],
    ['maxAttempts 101', (m) => (m.maxAttempts = 101), 'maxAttempts', 'range'],
    ['maxAttempts 2.5', (m) => (m.maxAttempts = 2.5), 'maxAttempts', 'integer'],
    ['maxAttempts a string', (m) => (m.maxAttempts = '3'), 'maxAttempts', 'type'],
    ['replyTo ftp', (m) => (m.replyTo = 'ftp://example.com/q'), 'replyTo', 'format'],
    ['replyTo not a URL', (m) => (m.replyTo = 'sluice-replies'), 'replyTo', 'format'],
    [
      'replyTo an SQS queue ARN (send the URL)',
      (m) => (m.replyTo = 'arn:aws:sqs:us-east-1:123456789012:results'),
      'replyTo',
      'pattern',
    ],
    ['replyTo a number', (m) => (m.replyTo = 42), 'replyTo', 'type'],
    [
      'replyTo over 2048 chars',
      (m) => (m.replyTo = `https://example.com/${'q'.repeat(2030)}`),
      'replyTo',
      'length',
    ],
    ['tags an array', (m) => (m.tags = ['owner']), 'tags', 'type'],
    ['tag value a number', (m) => (m.tags = { owner: 7 }), 'tags.owner', 'type'],
    [
      'tag value of 257 chars',
      (m) => (m.tags = { owner: 'x'.repeat(257) }),
      'tags.owner',
      'length',
    ],
    ['tag key empty', (m) => (m.tags = { '': 'x' }), 'tags[""]', 'length'],
    ['unknown top-level field (a typo)', (m) => (m.prority = 'high'), 'prority', 'unknown-field'],
  ];

  it.each(cases)('%s: %s field, rule %s', (_name, mutate, field, rule) => {
    const message = minimal();
    mutate(message);

    const problems = problemsOf(validateRequest(message));

    expect(problems.map((p) => [p.field, p.rule])).toEqual([[field, rule]]);
    // The message names the field first and the rule last.
    expect(problems[0]?.message.startsWith(`${field}: `)).toBe(true);
    expect(problems[0]?.message.endsWith(`(${rule})`)).toBe(true);
  });

  it('reports 21 tags as max-entries on tags', () => {
    const tags: Record<string, string> = {};
    for (let i = 0; i <= MAX_TAGS; i++) tags[`t${i}`] = 'v';

    expect(problemsOf(validateRequest({ ...minimal(), tags }))).toEqual([
      {
        field: 'tags',
        rule: 'max-entries',
        message: 'tags: has 21 entries; at most 20 are allowed (max-entries)',
      },
    ]);
  });

  it('reports too many tags together with a bad tag, not instead of it', () => {
    const tags: Record<string, unknown> = { bad: 1 };
    for (let i = 0; i < MAX_TAGS; i++) tags[`t${i}`] = 'v';

    expect(fieldRules(validateRequest({ ...minimal(), tags }))).toEqual([
      ['tags', 'max-entries'],
      ['tags.bad', 'type'],
    ]);
  });

  it('reports a 129-char tag key with the key shortened to 64 chars in the field', () => {
    const key = 'k'.repeat(129);

    expect(fieldRules(validateRequest({ ...minimal(), tags: { [key]: 'v' } }))).toEqual([
      [`tags.${'k'.repeat(63)}…`, 'length'],
    ]);
  });

  it('reports a __proto__ tag key sent in JSON as reserved-key', () => {
    const body = JSON.stringify(minimal()).replace(/}$/, ',"tags":{"__proto__":"x"}}');

    expect(fieldRules(parseRequest(body))).toEqual([['tags.__proto__', 'reserved-key']]);
  });

  it('gives the version message when v is missing', () => {
    const message = minimal();
    delete message.v;

    expect(problemsOf(validateRequest(message))).toEqual([
      { field: 'v', rule: 'required', message: 'v: is required: the contract version (required)' },
    ]);
  });
});

describe('several problems are reported at once', () => {
  it('reports every problem in one message, in field order, unknown fields last', () => {
    const message = {
      v: 1,
      id: 'a#b',
      target: { account: '1234', region: 'us-east-1' },
      call: { service: 'ec2', operation: 'runInstances', input: {} },
      priority: 'urgent',
      maxAttempts: 0,
      retries: 3,
    };

    expect(fieldRules(validateRequest(message))).toEqual([
      ['id', 'pattern'],
      ['target.account', 'pattern'],
      ['call.operation', 'pattern'],
      ['priority', 'enum'],
      ['maxAttempts', 'range'],
      ['retries', 'unknown-field'],
    ]);
  });

  it('reports an id that is both too long and has a # as two problems on id', () => {
    expect(fieldRules(validateRequest({ ...minimal(), id: `${'a'.repeat(128)}#` }))).toEqual([
      ['id', 'length'],
      ['id', 'pattern'],
    ]);
  });

  it('reports each required field of an empty object', () => {
    expect(fieldRules(validateRequest({}))).toEqual([
      ['v', 'required'],
      ['id', 'required'],
      ['target', 'required'],
      ['call', 'required'],
    ]);
  });
});

describe('the contract version', () => {
  it('answers v 2 with one "unsupported contract version" problem on v, ignoring other fields', () => {
    const message = { v: 2, id: 'x', request: { anything: true } };

    expect(problemsOf(validateRequest(message))).toEqual([
      {
        field: 'v',
        rule: 'literal',
        message: 'v: unsupported contract version 2; this version of Sluice accepts v 1 (literal)',
      },
    ]);
  });

  it('treats the string "1" as an unsupported version, showing it quoted', () => {
    const result = parseRequest(JSON.stringify({ ...minimal(), v: '1' }));

    expect(problemsOf(result)).toEqual([
      {
        field: 'v',
        rule: 'literal',
        message:
          'v: unsupported contract version "1"; this version of Sluice accepts v 1 (literal)',
      },
    ]);
  });

  it('shortens a long version value in the message', () => {
    const problems = problemsOf(validateRequest({ ...minimal(), v: 'x'.repeat(1000) }));

    expect(problems[0]?.message).toBe(
      `v: unsupported contract version "${'x'.repeat(30)}…; this version of Sluice accepts v 1 (literal)`,
    );
  });
});

describe('unknown fields', () => {
  it('reports each unknown field separately, at every level', () => {
    const message = {
      ...minimal(),
      target: { account: '123456789012', region: 'us-east-1', partition: 'aws' },
      cost: 2,
      retry: true,
    };

    expect(fieldRules(validateRequest(message))).toEqual([
      ['target.partition', 'unknown-field'],
      ['cost', 'unknown-field'],
      ['retry', 'unknown-field'],
    ]);
  });

  it('quotes unknown keys that contain dots or newlines, so the field stays one unambiguous line', () => {
    const message = { ...minimal(), 'a.b': 1, 'x\ny': 2 };

    expect(fieldRules(validateRequest(message))).toEqual([
      ['["a.b"]', 'unknown-field'],
      ['["x\\ny"]', 'unknown-field'],
    ]);
  });

  it('reports a top-level __proto__ key sent in JSON as unknown', () => {
    const body = JSON.stringify(minimal()).replace(/}$/, ',"__proto__":{"polluted":true}}');

    expect(fieldRules(parseRequest(body))).toEqual([['__proto__', 'unknown-field']]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('the body', () => {
  it('rejects a body one byte over MAX_REQUEST_BYTES as (body) max-size, saying why', () => {
    const body = bodyOfBytes(MAX_REQUEST_BYTES + 1);

    expect(problemsOf(parseRequest(body))).toEqual([
      {
        field: '(body)',
        rule: 'max-size',
        message:
          "(body): is 1040385 bytes; a message may be at most 1040384 bytes (SQS's 1 MiB less 8 KiB kept for Sluice's envelope) (max-size)",
      },
    ]);
  });

  it('rejects a body SQS would take but Sluice could never re-send with its envelope', () => {
    expect(fieldRules(parseRequest(bodyOfBytes(MAX_MESSAGE_BYTES - 100)))).toEqual([
      ['(body)', 'max-size'],
    ]);
  });

  it('measures the size in UTF-8 bytes, not characters', () => {
    const body = bodyOfBytes(MAX_REQUEST_BYTES + 2, 'é');

    expect(body.length).toBeLessThan(MAX_REQUEST_BYTES);
    expect(fieldRules(parseRequest(body))).toEqual([['(body)', 'max-size']]);
  });

  it.each(['{"v":1,', '', 'v=1&id=x', "{'v': 1}"])(
    'rejects the non-JSON body %j as (body) json',
    (body) => {
      const problems = problemsOf(parseRequest(body));

      expect(problems.map((p) => [p.field, p.rule])).toEqual([['(body)', 'json']]);
      expect(problems[0]?.message.startsWith('(body): is not valid JSON: ')).toBe(true);
    },
  );

  it.each([
    ['[]', 'an array'],
    ['null', 'null'],
    ['"hello"', 'a string'],
    ['1', 'a number'],
  ])('rejects the JSON value %s as (body) type', (body, described) => {
    expect(problemsOf(parseRequest(body))).toEqual([
      {
        field: '(body)',
        rule: 'type',
        message: `(body): must be an object, not ${described} (type)`,
      },
    ]);
  });
});

describe('call.input must be JSON', () => {
  const withInput = (input: unknown): Message => ({
    ...minimal(),
    call: { service: 'ec2', operation: 'RunInstances', input },
  });

  it('reports each value that JSON would change or drop, by path', () => {
    const input = {
      StartTime: new Date(0),
      Counts: [1, undefined, Number.NaN],
      Callback: () => 1,
      Big: 1n,
      Optional: undefined,
    };

    expect(fieldRules(validateRequest(withInput(input)))).toEqual([
      ['call.input.StartTime', 'json'],
      ['call.input.Counts[1]', 'json'],
      ['call.input.Counts[2]', 'json'],
      ['call.input.Callback', 'json'],
      ['call.input.Big', 'json'],
    ]);
  });

  it('says a Date should be sent as an ISO 8601 string', () => {
    expect(problemsOf(validateRequest(withInput({ StartTime: new Date(0) })))[0]?.message).toBe(
      'call.input.StartTime: a Date is not a JSON value; send plain data (dates as ISO 8601 strings) (json)',
    );
  });

  it('reports a cycle, and accepts the same object referenced twice', () => {
    const shared = { Name: 'tag:env', Values: ['prod'] };
    const cyclic: Record<string, unknown> = { Filters: [shared, shared] };
    cyclic.Self = cyclic;

    expect(fieldRules(validateRequest(withInput(cyclic)))).toEqual([['call.input.Self', 'json']]);
  });

  it(`accepts ${MAX_JSON_DEPTH} levels of nesting and reports the ${MAX_JSON_DEPTH + 1}th as max-depth`, () => {
    const nested = (levels: number): Record<string, unknown> => {
      let value: Record<string, unknown> = {};
      for (let i = 1; i < levels; i++) value = { a: value };
      return value;
    };

    expect(validateRequest(withInput(nested(MAX_JSON_DEPTH))).ok).toBe(true);
    expect(fieldRules(validateRequest(withInput(nested(MAX_JSON_DEPTH + 1))))).toEqual([
      [`call.input${'.a'.repeat(MAX_JSON_DEPTH)}`, 'max-depth'],
    ]);
  });

  it('returns one max-depth problem, without throwing, for a body nested 100,000 levels deep', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const body = JSON.stringify(withInput({ Deep: 'X' })).replace('"X"', deep);

    expect(fieldRules(parseRequest(body))).toEqual([
      [`call.input.Deep${'[0]'.repeat(MAX_JSON_DEPTH - 1)}`, 'max-depth'],
    ]);
  });

  it('reports __proto__ keys inside the input as reserved-key without polluting prototypes', () => {
    const body = JSON.stringify(withInput({ X: 'X' })).replace(
      '{"X":"X"}',
      '{"__proto__":{"polluted":true},"Nested":{"__proto__":{"polluted":true}}}',
    );

    expect(fieldRules(parseRequest(body))).toEqual([
      ['call.input.__proto__', 'reserved-key'],
      ['call.input.Nested.__proto__', 'reserved-key'],
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('describeProblems', () => {
  it('counts all problems and lists the first five on one line', () => {
    const problems = problemsOf(
      validateRequest({ ...minimal(), a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }),
    );

    expect(describeProblems(problems)).toBe(
      '7 problems: a: is not a field of the contract (unknown-field); ' +
        'b: is not a field of the contract (unknown-field); ' +
        'c: is not a field of the contract (unknown-field); ' +
        'd: is not a field of the contract (unknown-field); ' +
        'e: is not a field of the contract (unknown-field); and 2 more',
    );
  });

  it('describes a single problem without a plural', () => {
    const problems = problemsOf(validateRequest({ ...minimal(), priority: 'urgent' }));

    expect(describeProblems(problems)).toBe(
      '1 problem: priority: must be one of high, normal, low (enum)',
    );
  });

  it('says so when there are none', () => {
    expect(describeProblems([])).toBe('no problems');
  });
});
