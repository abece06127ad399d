import { expect } from 'vitest';
import { QrError } from '../../src/util/errors.js';

/** Awaits a promise that must reject with a QrError, and returns that error. */
export async function errorOf(p: Promise<unknown>): Promise<QrError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(QrError);
    return err as QrError;
  }
  throw new Error('expected an error');
}
