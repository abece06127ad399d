/**
 * Preload (`node --import test/support/builtins-spy.mjs …`): writes the names of the
 * Node built-in modules the process loaded (`process.moduleLoadList`, a JSON array such
 * as ["fs", "http", …]) to $QR_TEST_BUILTINS_FILE at exit.
 */
import { writeFileSync } from 'node:fs';
import process from 'node:process';

process.on('exit', () => {
  const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  writeFileSync(process.env.QR_TEST_BUILTINS_FILE, JSON.stringify(names));
});
