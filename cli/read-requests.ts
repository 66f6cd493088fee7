/**
 * Reading the requests of `sluice submit --file`: one JSON request, a JSON array of requests, or
 * NDJSON (one request per line), from a file or standard input.
 */
import { readFile } from 'node:fs/promises';
import { type Problem, problem } from '../shared/contract/problems.js';
import { usageError } from './exit-codes.js';
import type { CliIo } from './settings.js';

/** One request to submit, as read: a value to validate, or why it could not even be read. */
export type Item =
  | { readonly ok: true; readonly value: unknown; readonly where?: string }
  | { readonly ok: false; readonly problems: readonly Problem[]; readonly where?: string };

/** The text of `--file`: the file, or standard input for `-`. */
export async function readInput(file: string, io: CliIo): Promise<string> {
  if (file === '-') {
    if (!io.stdin) throw usageError('--file -: no standard input to read');
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk));
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw usageError(`--file ${file}: cannot read it: ${(error as Error).message}`);
  }
}

/**
 * Reads one JSON request, a JSON array of requests, or NDJSON. A line of NDJSON that is not JSON
 * becomes a failed item (named by its line), so one bad line does not hold back the others.
 */
export function parseRequests(raw: string): Item[] {
  const text = raw.replace(/^\uFEFF/, '');
  if (text.trim() === '') throw usageError('--file: no requests in the input');
  let whole: unknown;
  let isJson = true;
  try {
    whole = JSON.parse(text);
  } catch {
    isJson = false;
  }
  if (isJson) {
    if (!Array.isArray(whole)) return [{ ok: true, value: whole }];
    if (whole.length === 0) throw usageError('--file: the JSON array holds no requests');
    return whole.map((value, index) => ({ ok: true, value, where: `request ${index + 1}` }));
  }
  const items: Item[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `line ${index + 1}`;
    try {
      items.push({ ok: true, value: JSON.parse(line), where });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const text = `is not valid JSON (expected one request, a JSON array, or one request per line): ${reason}`;
      items.push({ ok: false, problems: [problem([], 'json', text)], where });
    }
  });
  return items;
}
