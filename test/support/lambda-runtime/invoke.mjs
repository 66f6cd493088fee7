// One Lambda invocation, as the Node.js runtime makes it: the handler named by `_HANDLER`
// (`<module>.<export>`) is imported from `LAMBDA_TASK_ROOT` (the module as .js, .mjs or .cjs, in
// the runtime's order), called once with the event and a context, and its response written as
// JSON to the file named by the second argument. The first argument is a JSON file holding
// `{ event, context }`, the context without its method and with `deadlineMs` (epoch ms) instead.
// Everything the handler prints goes to this process's stdout and stderr: the log stream.
// Plain JavaScript, run by the Node under test (the runtime's), nothing loaded before it but
// ./localhost-dns.mjs (see there why).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [invocationFile, responseFile] = process.argv.slice(2);
const root = process.env.LAMBDA_TASK_ROOT;
const handlerName = process.env._HANDLER;
if (!invocationFile || !responseFile || !root || !handlerName) {
  throw new Error(
    'usage: LAMBDA_TASK_ROOT=… _HANDLER=… node invoke.mjs <invocation.json> <response.json>',
  );
}

const dot = handlerName.lastIndexOf('.');
const [moduleName, exportName] = [handlerName.slice(0, dot), handlerName.slice(dot + 1)];
const file = ['.js', '.mjs', '.cjs'].map((ext) => join(root, moduleName + ext)).find(existsSync);
if (file === undefined) throw new Error(`no module ${moduleName} in ${root}`);
const handler = (await import(pathToFileURL(file).href))[exportName];
if (typeof handler !== 'function') throw new Error(`${file} exports no function ${exportName}`);

const { event, context: fields } = JSON.parse(readFileSync(invocationFile, 'utf8'));
const { deadlineMs, ...context } = fields;
context.getRemainingTimeInMillis = () => Math.max(0, deadlineMs - Date.now());
const response = await handler(event, context);
writeFileSync(responseFile, JSON.stringify(response ?? null));
