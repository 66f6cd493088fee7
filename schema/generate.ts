/**
 * `npm run schema`: writes the contract's JSON Schema documents (shared/contract/json-schema.ts)
 * into this folder. test/unit/contract/json-schema.test.ts fails when they are out of date.
 */
import { writeFileSync } from 'node:fs';
import {
  contractJsonSchemas,
  formatJsonSchema,
  SCHEMA_FILES,
} from '../shared/contract/json-schema.js';

const documents = contractJsonSchemas();
for (const [message, file] of Object.entries(SCHEMA_FILES)) {
  const path = new URL(file, import.meta.url);
  writeFileSync(path, formatJsonSchema(documents[message as keyof typeof SCHEMA_FILES]));
  console.log(`wrote schema/${file}`);
}
