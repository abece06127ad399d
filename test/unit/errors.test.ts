/**
 * The one mapping of an error to what the operator sees (util/errors.ts): exit codes,
 * the `--json` document, the stderr lines; and a non-QrError (a bug in quantum-roll)
 * reported as one, not as "fix the cause, then resume".
 */
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  ExitCode,
  HttpError,
  InternalError,
  InterruptedError,
  LeaseHeldError,
  QrError,
  RefusedError,
  StepError,
  UsageError,
  asQrError,
  errorDocument,
  errorText,
  exitCodeOf,
} from '../../src/util/errors.js';

describe('exit codes', () => {
  it('each kind maps to its cli.md exit code; anything else is 1', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(ExitCode.usage);
    expect(exitCodeOf(new ConfigError('quiesce.grace', 'must be a duration'))).toBe(2);
    expect(exitCodeOf(new RefusedError('x'))).toBe(3);
    expect(exitCodeOf(new LeaseHeldError('someone', undefined))).toBe(4);
    expect(exitCodeOf(new InterruptedError('x'))).toBe(130);
    expect(exitCodeOf(new StepError('x'))).toBe(1);
    expect(exitCodeOf(new HttpError('x', 500, undefined, {}))).toBe(1);
    expect(exitCodeOf(new TypeError('x'))).toBe(1);
    expect(exitCodeOf(new InternalError('x'))).toBe(1);
  });
});

describe('asQrError', () => {
  it('returns a QrError as it is', () => {
    const e = new RefusedError('precheck refused node-3', { node: 'node-3' });
    expect(asQrError(e)).toBe(e);
    expect(asQrError(e, { node: 'node-1', step: 'drain' })).toBe(e);
  });

  it('a TypeError in a step is a bug in quantum-roll, with what was left and resume after fixing', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
    const debug: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const qr = asQrError(bug, {
      node: 'node-2',
      step: 'quiesce',
      left: { text: 'node-2 is left drained and out of the LB', changed: true },
      log: { debug: (fields, message) => debug.push({ fields: fields as Record<string, unknown>, message }) },
    });
    expect(qr).toBeInstanceOf(InternalError);
    expect(qr.exitCode).toBe(ExitCode.failed);
    expect(qr.message).toBe(
      "quiesce of node-2 failed on a bug in quantum-roll (TypeError: Cannot read properties of undefined (reading 'x')); " +
        'this is not a problem of the cluster: please report it with the log (--log-level debug has the stack). ' +
        'node-2 is left drained and out of the LB; quantum-roll resume after fixing (or upgrading).',
    );
    expect(qr.message).not.toMatch(/fix the cause/);
    expect(qr.details).toEqual({ node: 'node-2', step: 'quiesce', next: 'quantum-roll resume' });
    expect(qr.cause).toBe(bug);
    // The stack goes to the log at debug, not into the message.
    expect(debug).toHaveLength(1);
    expect(debug[0]!.fields).toEqual({ event: 'internal_error', stack: bug.stack });
    expect(debug[0]!.message).toBe(qr.message);
    expect(qr.message).not.toContain(' at ');
  });

  it('before anything changed it says so and offers no resume', () => {
    const qr = asQrError(new RangeError('Invalid array length'), { node: 'node-1', step: 'precheck', left: { text: 'nothing was changed on node-1', changed: false } });
    expect(qr).toBeInstanceOf(InternalError);
    expect(qr.message).toMatch(/^precheck of node-1 failed on a bug in quantum-roll \(RangeError: Invalid array length\).* Nothing was changed\.$/);
    expect(qr.details.next).toBeUndefined();
  });

  it('outside a step (a command) it names no node, and a thrown non-Error is shown as such', () => {
    const qr = asQrError('boom');
    expect(qr).toBeInstanceOf(InternalError);
    expect(qr.message).toMatch(/^internal error: a bug in quantum-roll \(thrown value boom\); this is not a problem of the cluster/);
    expect(qr.details).toEqual({ node: undefined, step: undefined, next: undefined });
  });
});

describe('errorDocument and errorText', () => {
  it('a QrError: ok false, its exit code, message, kind and details', () => {
    const e = new RefusedError('precheck refused node-3: prg-0007 would lose quorum', { node: 'node-3', step: 'precheck', evidence: { blocking: ['prg-0007'] } });
    expect(errorDocument(e)).toEqual({
      ok: false,
      exit_code: 3,
      error: { message: e.message, kind: 'RefusedError', node: 'node-3', step: 'precheck', evidence: { blocking: ['prg-0007'] } },
    });
    expect(errorText(e)).toBe(`quantum-roll: ${e.message}\n`);
  });

  it('the lease holder is evidence; exit 4', () => {
    const doc = errorDocument(new LeaseHeldError('ops@host', '2026-01-01T00:00:00Z'));
    expect(doc).toMatchObject({ ok: false, exit_code: 4, error: { kind: 'LeaseHeldError', evidence: { holder: 'ops@host', expires_at: '2026-01-01T00:00:00Z' } } });
  });

  it('extra fields sit between exit_code and error (the second-signal document)', () => {
    const e = new InterruptedError('SIGINT received twice', { next: 'quantum-roll resume' });
    const doc = errorDocument(e, { status: 'interrupted' });
    expect(Object.keys(doc)).toEqual(['ok', 'exit_code', 'status', 'error']);
    expect(JSON.stringify(doc)).toBe(
      '{"ok":false,"exit_code":130,"status":"interrupted","error":{"message":"SIGINT received twice","kind":"InterruptedError","next":"quantum-roll resume"}}',
    );
    expect(errorText(e)).toBe('quantum-roll: SIGINT received twice\n  next: quantum-roll resume\n');
  });

  it('a non-QrError is reported as an internal error, exit 1', () => {
    const doc = errorDocument(new TypeError('x is not a function')) as { exit_code: number; error: { kind: string; message: string } };
    expect(doc.exit_code).toBe(1);
    expect(doc.error.kind).toBe('InternalError');
    expect(doc.error.message).toContain('a bug in quantum-roll (TypeError: x is not a function)');
    expect(errorText(new TypeError('x is not a function'))).toMatch(/^quantum-roll: internal error: a bug in quantum-roll \(TypeError/);
  });

  it('a plain QrError keeps its own name as kind', () => {
    expect((errorDocument(new QrError('x')) as { error: { kind: string } }).error.kind).toBe('QrError');
  });
});
