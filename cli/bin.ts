/**
 * The `sluice` command's entry point: the file esbuild bundles into `dist/cli/sluice.js`, the
 * package's `bin` (`npm run build`).
 */
import { main } from './main.js';

// The AWS SDK prints a Node-version notice on stderr, which scripts reading stderr don't want.
// Clients read it when they are built, which is after this line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

await main();
