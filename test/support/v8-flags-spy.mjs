/**
 * Preload (`node --import test/support/v8-flags-spy.mjs …`): records every flag the
 * process sets with `v8.setFlagsFromString`, and writes them (a JSON array) to
 * $QR_TEST_V8_FLAGS_FILE at exit. The CLI's import of node:v8 sees the wrapper
 * (syncBuiltinESMExports); the flag is still set.
 */
import { writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import process from 'node:process';

const v8 = createRequire(import.meta.url)('node:v8');
const set = [];
const original = v8.setFlagsFromString;
v8.setFlagsFromString = (flags) => {
  set.push(flags);
  return original(flags);
};
syncBuiltinESMExports();
process.on('exit', () => writeFileSync(process.env.QR_TEST_V8_FLAGS_FILE, JSON.stringify(set)));
