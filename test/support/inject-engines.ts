/** The engines started by global-setup.ts, for test files (vitest only; benches use engines.ts). */
import { inject } from 'vitest';
import type { Engine } from './engines.js';

export function enginesUnderTest(): Engine[] {
  return inject('engines');
}
