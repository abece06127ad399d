/** Module loader hooks for loads-hook.mjs: append each loaded module's URL to a file. */
import { appendFileSync } from 'node:fs';
import process from 'node:process';

const file = process.env.QR_BENCH_LOADS_FILE;

export async function load(url, context, next) {
  const result = await next(url, context);
  if (file) appendFileSync(file, `${url}\n`);
  return result;
}
