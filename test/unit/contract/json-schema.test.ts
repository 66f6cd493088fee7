/**
 * The published JSON Schema (schema/*.json): generated from the zod schemas, in sync with them,
 * and agreeing with them on the examples in schema/examples — valid ones pass both; invalid ones
 * are rejected by both, except the rules JSON Schema cannot express (the documents say which),
 * where only the dispatcher's validation catches them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  contractJsonSchemas,
  SCHEMA_FILES,
  SchemaGenerationError,
  toJsonSchema,
} from '../../../shared/contract/json-schema.js';
import { validateRequest } from '../../../shared/contract/request.js';
import { validateResult } from '../../../shared/contract/result.js';

const SCHEMA_DIR = new URL('../../../schema/', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, SCHEMA_DIR), 'utf8');
const documents = contractJsonSchemas();

// ajv-formats is CommonJS: under NodeNext its default import is the module, the plugin its `default`.
const addFormats = addFormatsModule.default;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const jsonSchemaValidators = {
  request: ajv.compile(JSON.parse(read(SCHEMA_FILES.request))),
  result: ajv.compile(JSON.parse(read(SCHEMA_FILES.result))),
};
const zodValidators = { request: validateRequest, result: validateResult };

/** What Sluice says about each invalid example, and whether JSON Schema catches it too. */
const INVALID: Record<
  'request' | 'result',
  Record<string, { field: string; rule: string; jsonSchemaCatches: boolean }>
> = {
  request: {
    'missing-id.json': { field: 'id', rule: 'required', jsonSchemaCatches: true },
    'short-account.json': { field: 'target.account', rule: 'pattern', jsonSchemaCatches: true },
    'misspelt-field.json': { field: 'prority', rule: 'unknown-field', jsonSchemaCatches: true },
    'reply-to-queue-arn.json': { field: 'replyTo', rule: 'pattern', jsonSchemaCatches: true },
    'proto-key-in-input.json': {
      field: 'call.input.Filters[0].__proto__',
      rule: 'reserved-key',
      jsonSchemaCatches: false,
    },
    'input-too-deep.json': {
      field: `call.input${'.a'.repeat(32)}`,
      rule: 'max-depth',
      jsonSchemaCatches: false,
    },
  },
  result: {
    'unknown-status.json': { field: 'status', rule: 'enum', jsonSchemaCatches: true },
    'succeeded-without-output.json': { field: 'output', rule: 'one-of', jsonSchemaCatches: true },
    'succeeded-with-output-and-output-ref.json': {
      field: 'output',
      rule: 'one-of',
      jsonSchemaCatches: true,
    },
  },
};

function examples(message: 'request' | 'result', validity: 'valid' | 'invalid'): string[] {
  return readdirSync(new URL(`examples/${message}/${validity}/`, SCHEMA_DIR)).sort();
}

describe('the published JSON Schema', () => {
  it.each(Object.entries(SCHEMA_FILES))(
    'schema/%s matches the zod schemas (npm run schema regenerates it)',
    (message, file) => {
      const published: unknown = JSON.parse(read(file));
      const generated = documents[message as keyof typeof SCHEMA_FILES];
      expect(published).toEqual(generated);
      // Key order too: the files read in the generator's order ($schema, title, description…).
      expect(JSON.stringify(published)).toBe(JSON.stringify(generated));
    },
  );

  it('is draft 2020-12 and says what it cannot express and who has the last word', () => {
    for (const document of Object.values(documents)) {
      expect(document.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(document.description).toContain('"__proto__"');
      expect(document.description).toContain('nest at most 32 levels');
      expect(document.description).toContain('The dispatcher validates every message itself');
    }
  });

  it('refuses a custom check that does not describe itself, instead of publishing {}', () => {
    const schema = z.strictObject({ input: z.custom<object>(() => true).check(() => {}) });
    expect(() => toJsonSchema(schema)).toThrow(
      new SchemaGenerationError(['input'], 'a custom schema has no JSON Schema of its own'),
    );
    const described = z.strictObject({
      input: z.custom<object>(() => true).meta({ type: 'object' }),
    });
    expect(toJsonSchema(described).properties).toEqual({ input: { type: 'object' } });
  });

  it('lists every example file in the expectations of this test', () => {
    for (const message of ['request', 'result'] as const) {
      expect(examples(message, 'invalid')).toEqual(Object.keys(INVALID[message]).sort());
      expect(examples(message, 'valid').length).toBeGreaterThan(0);
    }
  });
});

describe.each(['request', 'result'] as const)('%s examples', (message) => {
  it.each(examples(message, 'valid'))('valid/%s passes zod and JSON Schema', (file) => {
    const value: unknown = JSON.parse(read(`examples/${message}/valid/${file}`));
    expect(zodValidators[message](value)).toMatchObject({ ok: true });
    const validate = jsonSchemaValidators[message];
    expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(Object.entries(INVALID[message]))(
    'invalid/%s is rejected by Sluice, naming the field and rule',
    (file, expected) => {
      const value: unknown = JSON.parse(read(`examples/${message}/invalid/${file}`));
      const parsed = zodValidators[message](value);
      expect(parsed.ok ? [] : parsed.problems.map(({ field, rule }) => ({ field, rule }))).toEqual([
        { field: expected.field, rule: expected.rule },
      ]);
      // Where JSON Schema cannot say it, it accepts: the dispatcher's check is the authority.
      expect(jsonSchemaValidators[message](value)).toBe(!expected.jsonSchemaCatches);
    },
  );
});
