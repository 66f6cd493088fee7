// Worker-thread entry of ./emulators-thread.ts. Plain JavaScript because a worker does not
// inherit the parent's TypeScript loader: it registers tsx itself, then loads the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./emulators-worker.ts');
