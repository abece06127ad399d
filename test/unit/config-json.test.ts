/**
 * A plain JSON config is read without the YAML parser (config/load.ts `plainConfig`,
 * issue 21): the same config as the YAML parser made of it, and any JSON the fast path
 * does not take (a duplicate key, a problem) goes the YAML way, with its texts and lines.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ConfigProblems, hasDuplicateKey, loadConfig, loadConfigAsync, parseConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'qr-config-json-'));
const base = {
  control_plane: { url: 'https://cp.example:8443', request_timeout: '7s', token_file: 'cp-token' },
  lb: { adapter: 'http', url: 'https://lb.example', pool: 'mqtt' },
  restart: { command: ['systemctl', 'restart', 'quantum@{node}'], timeout: '2m' },
  quiesce: { grace: '5s', target_sessions: 10 },
  nodes: { 'node-1': { admin_url: 'https://n1:9000', lb_member: 'n1' } },
};

function problems(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigProblems);
    return { message: (err as Error).message, problems: (err as ConfigProblems).problems };
  }
  throw new Error('expected config problems');
}

describe('JSON configs without the YAML parser', () => {
  it('the same config as the YAML parser made of the same text (paths resolved against the file)', async () => {
    const file = join(dir, 'c.json');
    writeFileSync(join(dir, 'cp-token'), 'secret\n', { mode: 0o600 });
    const text = `${JSON.stringify(base, null, 2)}\n`;
    writeFileSync(file, text);
    const yamlCopy = join(dir, 'c.yaml');
    writeFileSync(yamlCopy, `# yaml\n${text}`); // not starting with "{": the YAML path
    const viaJson = await loadConfigAsync(file, {});
    const viaYaml = loadConfig(yamlCopy, {});
    expect(viaJson.config).toEqual(viaYaml.config);
    expect(viaJson.config.control_plane.token_file).toBe(join(dir, 'cp-token'));
    expect(loadConfig(file, {}).config).toEqual(viaYaml.config);
    expect(viaJson.text).toBe(text);
  });

  it('a duplicate key is refused as before (the YAML parser names it), in the fast path\'s own objects and nested ones', async () => {
    for (const text of ['{"control_plane": {"url": "https://cp"}, "control_plane": {"url": "https://x"}}', '{"restart": {"command": ["x"], "timeout": "1s", "timeout": "2s"}, "control_plane": {"url": "https://cp"}}']) {
      const p = problems(() => parseConfig(text, '/x/c.json', {})) as { problems: { message: string }[] };
      expect(p.problems[0]!.message).toMatch(/^not valid YAML or JSON: Map keys must be unique/);
      const file = join(dir, 'dup.json');
      writeFileSync(file, text);
      await expect(loadConfigAsync(file, {})).rejects.toThrow(/Map keys must be unique/);
    }
  });

  it('problems of a JSON config keep their texts and lines', async () => {
    const text = '{\n  "control_plane": {"url": "https://cp"},\n  "restart": {"command": ["x"]},\n  "quiesce": {"grace": 5},\n  "bogus": 1\n}\n';
    const file = join(dir, 'bad.json');
    writeFileSync(file, text);
    const sync = problems(() => loadConfig(file, {}));
    const viaAsync = await loadConfigAsync(file, {}).then(
      () => undefined,
      (err: ConfigProblems) => ({ message: err.message, problems: err.problems }),
    );
    expect(viaAsync).toEqual(sync);
    expect((sync as { problems: { path: string; line?: number }[] }).problems.map((p) => [p.path, p.line])).toEqual([
      ['quiesce.grace', 4],
      ['bogus', 5],
    ]);
  });

  it('hasDuplicateKey agrees with the YAML parser on any JSON', () => {
    // keys as JSON text: "ab" and "a\u0062" are the same key, written apart
    const key = fc.constantFrom('"a"', '"b"', '"a\\u0062"', '"ab"', '"\\""', '"x:y"', '"{"', '"\\\\"', '"]"');
    const json = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.constant('"s:{[\\"]}"'), tie('obj'), tie('arr')),
      obj: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${k} : ${v as string}`).join(',')}}`),
      arr: fc.array(tie('value'), { maxLength: 3 }).map((vs) => `[ ${vs.join(', ')} ]`),
    })).obj;
    fc.assert(
      fc.property(json, (text) => {
        JSON.parse(text); // valid JSON, as the fast path has it
        const yamlSays = parseDocument(text, { uniqueKeys: true }).errors.some((e) => /unique/.test(e.message));
        expect(hasDuplicateKey(text)).toBe(yamlSays);
      }),
      { numRuns: 300 },
    );
  });
});
