/**
 * The config loader's security rules (issue 6): per-system TLS and token settings, no
 * plain http where a token or TLS is configured, TLS files checked at load, and no
 * secret in any error message. Every failure is a ConfigError (exit 2) naming the key.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, ExitCode } from '../../src/util/errors.js';
import { createCa, issueCert, type CertPair } from '../../src/sim/tls.js';
import { displayUrl } from '../../src/clients/http.js';

const SECRET = 'tok-3b1f9e0c7a2d4e56';
let dir: string;
let ca: CertPair;
let otherCa: CertPair;
let client: CertPair;
let otherClient: CertPair;
let expired: CertPair;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qr-config-'));
  ca = createCa(dir, 'ca');
  otherCa = createCa(dir, 'other-ca', 'another CA');
  client = issueCert(ca, dir, 'client', { cn: 'quantum-roll', usage: 'client' });
  otherClient = issueCert(otherCa, dir, 'other-client', { cn: 'quantum-roll', usage: 'client' });
  expired = issueCert(ca, dir, 'expired', { cn: 'quantum-roll', usage: 'client', days: 0 });
  writeFileSync(join(dir, 'token'), `${SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'empty-token'), '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'spaced-token'), `${SECRET} x\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n');
  // notAfter == notBefore == issue time (second precision): expired once a second has passed.
  await new Promise((r) => setTimeout(r, 1_100));
});

type Raw = Record<string, any>;
const base = (): Raw => ({
  control_plane: { url: 'https://cp.internal:7443' },
  restart: { command: ['ssh', '{node}', 'sudo', 'systemctl', 'restart', 'quantum'] },
});

function parse(raw: Raw, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(stringify(raw), join(dir, 'quantum-roll.yaml'), env);
}

function configError(raw: Raw, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parse(raw, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(ExitCode.usage);
    expect((err as Error).message).not.toContain(SECRET);
    return err as ConfigError;
  }
  throw new Error('expected a config error');
}

describe('config: tokens', () => {
  it('accepts token_env and token_file per system, each standing alone', () => {
    const c = parse(
      {
        ...base(),
        control_plane: { url: 'https://cp.internal:7443', token_env: 'CP_TOKEN', ca_file: ca.cert },
        node_api: { token_file: 'token' },
        lb: { adapter: 'http', url: 'https://lb.internal', pool: 'mqtt' },
      },
      { CP_TOKEN: SECRET },
    );
    expect(c.control_plane.ca_file).toBe(ca.cert);
    expect(c.node_api.token_file).toBe(join(dir, 'token'));
    // Nothing is inherited: node_api and lb get no CA from control_plane, lb gets no token.
    expect(c.node_api.ca_file).toBeUndefined();
    expect(c.lb.ca_file).toBeUndefined();
    expect(c.lb.token_env).toBeUndefined();
  });

  it('refuses a token_env that is unset, or a token with spaces, without printing the token', () => {
    expect(configError({ ...base(), control_plane: { url: 'https://cp', token_env: 'NOPE' } }).keyPath).toBe('control_plane.token_env');
    const e = configError({ ...base(), control_plane: { url: 'https://cp', token_env: 'T' } }, { T: `${SECRET} evil\r\nX-Injected: 1` });
    expect(e.keyPath).toBe('control_plane.token_env');
    expect(e.message).toMatch(/control characters/);
  });

  it('refuses a token_file that is missing, empty, or holds spaces; and token_env with token_file', () => {
    expect(configError({ ...base(), node_api: { token_file: 'missing' } }).message).toMatch(/node_api\.token_file: cannot read .*missing \(ENOENT\)/);
    expect(configError({ ...base(), node_api: { token_file: 'empty-token' } }).message).toMatch(/is empty/);
    expect(configError({ ...base(), node_api: { token_file: 'spaced-token' } }).message).toMatch(/control characters/);
    expect(configError({ ...base(), node_api: { token_file: 'token', token_env: 'X' } }, { X: 'y' }).message).toMatch(/not both/);
  });

  it('a token goes only over https or to loopback http', () => {
    const e = configError({ ...base(), control_plane: { url: 'http://cp.internal:7443', token_env: 'T' } }, { T: SECRET });
    expect(e.keyPath).toBe('control_plane.url');
    expect(e.message).toMatch(/plain http to a non-loopback host; use https:\/\//);
    expect(() => parse({ ...base(), control_plane: { url: 'http://127.0.0.1:7443', token_env: 'T' } }, { T: SECRET })).not.toThrow();
    expect(() => parse({ ...base(), control_plane: { url: 'http://[::1]:7443', token_env: 'T' } }, { T: SECRET })).not.toThrow();
    const lb = configError({ ...base(), lb: { adapter: 'http', url: 'http://lb.internal', pool: 'p', token_file: 'token' } });
    expect(lb.keyPath).toBe('lb.url');
    const node = configError({ ...base(), node_api: { token_file: 'token' }, nodes: { 'node-3': { admin_url: 'http://node-3.internal:9443' } } });
    expect(node.keyPath).toBe('nodes.node-3.admin_url');
  });

  it('refuses credentials inside a URL', () => {
    const e = configError({ ...base(), control_plane: { url: `https://admin:${SECRET}@cp.internal` } });
    expect(e.keyPath).toBe('control_plane.url');
    expect(e.message).toMatch(/must not carry credentials/);
  });

  it('refuses TLS or token settings on an LB adapter that does not use them', () => {
    expect(configError({ ...base(), lb: { adapter: 'none', token_env: 'T' } }, { T: SECRET }).keyPath).toBe('lb.token_env');
  });
});

describe('config: TLS', () => {
  it('accepts a CA bundle and a matching client certificate and key per system', () => {
    const c = parse({
      ...base(),
      control_plane: { url: 'https://cp.internal:7443', ca_file: ca.cert, cert_file: client.cert, key_file: client.key },
      node_api: { ca_file: otherCa.cert },
    });
    expect(c.control_plane.cert_file).toBe(client.cert);
    expect(c.node_api.cert_file).toBeUndefined();
  });

  it('refuses TLS settings on a plain http:// URL (control_plane, lb, nodes.<id>.admin_url)', () => {
    const cp = configError({ ...base(), control_plane: { url: 'http://127.0.0.1:7443', ca_file: ca.cert } });
    expect(cp.keyPath).toBe('control_plane.url');
    expect(cp.message).toMatch(/plain http; use https:\/\//);
    expect(configError({ ...base(), control_plane: { url: 'http://cp', insecure_skip_verify: true } }).keyPath).toBe('control_plane.url');
    expect(configError({ ...base(), lb: { adapter: 'http', url: 'http://lb', pool: 'p', ca_file: ca.cert } }).keyPath).toBe('lb.url');
    const node = configError({ ...base(), node_api: { ca_file: ca.cert }, nodes: { 'node-1': { admin_url: 'http://127.0.0.1:9443' } } });
    expect(node.keyPath).toBe('nodes.node-1.admin_url');
  });

  it('refuses unreadable or malformed TLS files at load, naming the key', () => {
    expect(configError({ ...base(), control_plane: { url: 'https://cp', ca_file: 'nope.pem' } }).message).toMatch(
      /control_plane\.ca_file: cannot read .*nope\.pem \(ENOENT\)/,
    );
    expect(configError({ ...base(), node_api: { ca_file: 'garbage.pem' } }).message).toMatch(/node_api\.ca_file: .* holds no PEM certificate/);
    expect(configError({ ...base(), node_api: { ca_file: ca.key } }).keyPath).toBe('node_api.ca_file');
  });

  it('refuses a client certificate without its key, a key of another certificate, and an expired certificate', () => {
    expect(configError({ ...base(), node_api: { cert_file: client.cert } }).keyPath).toBe('node_api.key_file');
    expect(configError({ ...base(), node_api: { key_file: client.key } }).keyPath).toBe('node_api.cert_file');
    const mismatch = configError({ ...base(), node_api: { cert_file: client.cert, key_file: otherClient.key } });
    expect(mismatch.keyPath).toBe('node_api.key_file');
    expect(mismatch.message).toMatch(/does not belong to the certificate/);
    const old = configError({ ...base(), control_plane: { url: 'https://cp', cert_file: expired.cert, key_file: expired.key } });
    expect(old.keyPath).toBe('control_plane.cert_file');
    expect(old.message).toMatch(/expired on/);
  });

  it('relative TLS and token paths resolve against the config file directory', () => {
    const c = parse({ ...base(), control_plane: { url: 'https://cp', ca_file: 'ca.pem', cert_file: 'client.pem', key_file: 'client.key' } });
    expect(c.control_plane.ca_file).toBe(join(dir, 'ca.pem'));
    expect(c.control_plane.key_file).toBe(join(dir, 'client.key'));
  });
});

describe('messages never show a lease token', () => {
  it('displayUrl masks the token query parameter', () => {
    expect(displayUrl(`https://cp/v1/leases/rolling-restart?token=${SECRET}`)).toBe('https://cp/v1/leases/rolling-restart?token=[redacted]');
    expect(displayUrl(`https://cp/x?a=1&token=${SECRET}&b=2`)).toBe('https://cp/x?a=1&token=[redacted]&b=2');
  });
});
