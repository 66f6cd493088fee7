/**
 * The contract as JSON Schema (draft 2020-12), generated from the zod schemas that the
 * dispatcher validates with, so that a producer in any language can check a message before
 * sending it. `npm run schema` writes the documents to `schema/`; a test regenerates them and
 * compares, so the published files never drift from the code.
 *
 * Some rules are checks written in code (bounded nesting, `__proto__` keys) or depend on the
 * deployment (allowlists): those schemas describe themselves with `.meta()` as far as JSON Schema
 * can, and the documents say what is left out. The dispatcher's validation is the authority.
 */
import { z } from 'zod';
import { MAX_JSON_DEPTH, MAX_REQUEST_BYTES, requestSchema } from './request.js';
import { resultSchema } from './result.js';

/** A generated JSON Schema document. */
export type JsonSchemaDocument = Readonly<Record<string, unknown>>;

/** File names of the published documents (in `schema/`), by contract message. */
export const SCHEMA_FILES = {
  request: 'request.v1.json',
  result: 'result.v1.json',
} as const;

/** A zod schema that JSON Schema cannot represent and that does not describe itself. */
export class SchemaGenerationError extends Error {
  constructor(path: readonly (string | number)[], reason: string) {
    super(
      `${path.join('.') || '(root)'}: ${reason}; give the schema a .meta() with its JSON Schema`,
    );
    this.name = 'SchemaGenerationError';
  }
}

const BEYOND_THE_SCHEMA =
  'What JSON Schema cannot express, and Sluice still checks: the body is at most ' +
  `${MAX_REQUEST_BYTES} UTF-8 bytes (a request; SQS's 1 MiB less room for Sluice's envelope); JSON objects (call.input, output) nest at most ` +
  `${MAX_JSON_DEPTH} levels and have no "__proto__" key at any depth. The deployment decides ` +
  'which targets, operations and replyTo destinations are allowed. The dispatcher validates ' +
  'every message itself and is the authority: a message this schema accepts may still be ' +
  'rejected, and the rejection names each field and rule.';

/**
 * JSON Schema (draft 2020-12) of a zod schema. A custom check (z.custom) has no JSON Schema of its own: it must
 * carry one in its `.meta()` (with at least a `type`), which zod merges in. zod asks about the
 * custom schema before its metadata is merged, so every custom schema is let through here and the
 * result is then checked: a property left as `{}` (anything goes) is an error, not a silent hole.
 */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    unrepresentable: ({ zodSchema, path, message }) => {
      if (zodSchema._zod.def.type === 'custom') return 'any';
      throw new SchemaGenerationError(path, message);
    },
  }) as Record<string, unknown>;
  assertNoOpenProperties(json, []);
  return json;
}

/** Throws if a property's schema is empty: a custom zod schema without its `.meta()`. */
function assertNoOpenProperties(node: unknown, path: readonly (string | number)[]): void {
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && typeof value === 'object' && value !== null) {
      for (const [name, property] of Object.entries(value)) {
        if (typeof property === 'object' && property !== null && Object.keys(property).length === 0)
          throw new SchemaGenerationError(
            [...path, name],
            'a custom schema has no JSON Schema of its own',
          );
      }
    }
    assertNoOpenProperties(value, key === 'properties' ? path : [...path, key]);
  }
}

/** A published document: `$schema` first, then a title and a description, then the schema. */
function document(schema: z.ZodType, title: string, description: string): JsonSchemaDocument {
  const { $schema, ...rest } = toJsonSchema(schema);
  return { $schema, title, description: `${description} ${BEYOND_THE_SCHEMA}`, ...rest };
}

/** The request (contract v1) and the result, as JSON Schema documents. */
export function contractJsonSchemas(): Readonly<
  Record<keyof typeof SCHEMA_FILES, JsonSchemaDocument>
> {
  return {
    request: document(
      requestSchema,
      'Sluice request, contract v1',
      'The body of an SQS message sent to a Sluice request queue: one API call to make under ' +
        'the shared limits.',
    ),
    result: document(
      resultSchema,
      'Sluice result, contract v1',
      'How a request ended: the JSON stored in the requests table (attribute "result") and ' +
        "sent to the request's replyTo queue or topic.",
    ),
  };
}

/** A document as written to its file: two-space indentation and a final newline. */
export function formatJsonSchema(document: JsonSchemaDocument): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
