#!/usr/bin/env node
// The `sluice` command. The CLI is TypeScript (cli/main.ts), run through tsx's loader,
// registered for this process only: no build step, and `npx sluice` works in the repository.
import { register } from 'tsx/esm/api';

// The AWS SDK prints a Node-version notice on stderr, which scripts reading stderr don't want.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

register();
const { main } = await import('../cli/main.ts');
await main();
