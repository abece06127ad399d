/**
 * The `canary` config key (issue 12): off when absent, defaults when present, every
 * mistake named by its key path, credentials never in a message, and the credential
 * variables kept from the commands quantum-roll runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigProblems, parseConfig, tokenEnvNames } from '../../src/config/load.js';

const base = {
  control_plane: { url: 'http://127.0.0.1:7443' },
  restart: { command: ['true'] },
};
const parse = (extra: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, file = '/etc/qr/config.yaml') => parseConfig(stringify({ ...base, ...extra }), file, env);
const problems = (extra: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
  try {
    parse(extra, env);
  } catch (err) {
    if (err instanceof ConfigProblems) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected config problems');
};

describe('canary config', () => {
  it('is off when absent and has its defaults when present', () => {
    expect(parse({}).canary).toBeUndefined();
    expect(parse({ canary: { front_door: 'mqtt.example.net:8883' } }).canary).toEqual({
      front_door: 'mqtt.example.net:8883',
      topic_prefix: '$quantum-roll/canary',
      timeout: 5000,
      protocol: 5,
      check_drain: true,
    });
  });

  it('names every mistake by its key path', () => {
    const p = problems({
      canary: { front_door: 'mqtt.example.net', timeout: 'soon', protocol: 3, topic_prefix: 'a/#', password_env: 'P', password_file: '/x', tls: { cert_file: '/c.pem' }, extra: 1 },
      nodes: { 'node-1': { mqtt_endpoint: 'node-1:99999' } },
    });
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^canary\.front_door: must be host:port/),
        expect.stringMatching(/^canary\.timeout: "soon" is not a duration/),
        expect.stringMatching(/^canary\.protocol: must be 5/),
        expect.stringMatching(/^canary\.topic_prefix: must be a topic without wildcards/),
        expect.stringMatching(/^canary\.extra: unknown key/),
        expect.stringMatching(/^nodes\.node-1\.mqtt_endpoint: must be host:port/),
      ]),
    );
  });

  it('checks the credentials without printing them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qr-canary-'));
    const p = problems({ canary: { front_door: 'h:1883', username_env: 'QR_U', password_env: 'QR_P', password_file: join(dir, 'pw') } });
    expect(p).toContain('canary.password_file: set password_env or password_file, not both');
    expect(problems({ canary: { front_door: 'h:1883', username_env: 'QR_U', password_env: 'QR_P' } }, { QR_U: 'alice' })).toEqual([
      'canary.password_env: environment variable QR_P is not set or empty',
    ]);
    expect(problems({ canary: { front_door: 'h:1883', password_file: join(dir, 'missing') } })[0]).toMatch(/^canary\.password_file: cannot read .*missing \(ENOENT\)/);
    writeFileSync(join(dir, 'pw'), 's3cret-pw\n');
    writeFileSync(join(dir, 'c.yaml'), '');
    const cfg = parse({ canary: { front_door: 'h:1883', password_file: 'pw' } }, {}, join(dir, 'c.yaml'));
    expect(cfg.canary!.password_file).toBe(join(dir, 'pw')); // relative to the config
    let msg = '';
    try {
      parse({ canary: { front_door: 'h:1883', username_env: 'QR_U', password_env: 'QR_P', tls: { ca_file: '/nonexistent/ca.pem' } } }, { QR_U: 'alice', QR_P: 'hunter2-secret' });
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toContain('canary.tls.ca_file: cannot read /nonexistent/ca.pem');
    expect(msg).not.toContain('hunter2-secret');
  });

  it('keeps the credential variables from the commands quantum-roll runs', () => {
    const cfg = parse({ canary: { front_door: 'h:1883', username_env: 'QR_U', password_env: 'QR_P' } }, { QR_U: 'alice', QR_P: 'x' });
    expect(tokenEnvNames(cfg)).toEqual(expect.arrayContaining(['QR_U', 'QR_P']));
  });
});
