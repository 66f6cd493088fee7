// Minimal typing for dynalite (CommonJS, ships no types). Only what test/support/dynalite.ts uses.
// Named dynalite-module.d.ts, not dynalite.d.ts: next to dynalite.ts, TypeScript would drop a
// same-named .d.ts from the program.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB directory; in memory when omitted. */
    path?: string;
    /** How long tables stay CREATING / DELETING / UPDATING (default 500 ms each). */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    maxItemSizeKb?: number;
    ssl?: boolean;
    verbose?: boolean;
    debug?: boolean;
  }

  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}
