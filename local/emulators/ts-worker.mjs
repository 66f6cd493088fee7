// Entry of the local stack's worker threads (see startTsWorker in ./emulators-thread.ts).
// Plain JavaScript because a worker does not inherit the parent's TypeScript loader: it
// registers tsx itself, then loads the TypeScript module named in `workerData.module`.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.module);
