/**
 * Fuzzed boundaries (issue 20, item 7), a seed-fixed slice: the properties of
 * test/fuzz/targets.ts over a few hundred generated inputs per target, the same ones on
 * every run. `npm run fuzz` runs ≥ 10,000 per target with a new seed (printed), and
 * replays one with `npm run fuzz -- --seed N`: QR_FUZZ_RUNS and QR_FUZZ_SEED set both.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnswerServer, type Clients, HAPROXY_TARGETS, RESPONSE_TARGETS, VALID_CONFIG, answerText, checkConfig, checkHaproxy, checkResponse, clientsOf, configText, haproxyText } from './targets.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError, LeaseHeldError } from '../../src/util/errors.js';
import { stringify } from 'yaml';

const RUNS = Number(process.env.QR_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.QR_FUZZ_SEED ?? 20_261_207);
const params = { numRuns: RUNS, seed: SEED, endOnFailure: true } as const;
const timeout = Math.max(60_000, RUNS * 30);

console.log(`fuzz: ${RUNS} inputs per target, seed ${SEED} (replay: npm run fuzz -- --seed ${SEED} --runs ${RUNS})`);

describe('fuzzed boundaries', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'qr-fuzz-')), 'quantum-roll.yaml');

  it('the base config is valid (the mutations start from a good one)', () => {
    expect(() => parseConfig(stringify(VALID_CONFIG), file, {})).not.toThrow();
  });

  it('findings fixed: an empty key is named (""), an alias without its anchor or an alias bomb is a YAML error, not a bug', () => {
    const problems = (text: string) => {
      try {
        parseConfig(text, file, {});
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return ((err as ConfigError).details.evidence as { problems: { path: string; message: string }[] }).problems;
      }
      throw new Error('expected a ConfigError');
    };
    expect(problems(`${stringify(VALID_CONFIG)}"": 1\n`)).toContainEqual(expect.objectContaining({ path: '""', message: expect.stringMatching(/unknown key/) }));
    expect(problems('*HY~CMY$')[0]!.message).toMatch(/^not valid YAML or JSON: .*alias/i);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');
    expect(problems(bomb)[0]!.message).toMatch(/^not valid YAML or JSON/);
  });

  it('config loader: a config loads, or fails naming the key of every problem', () => {
    fc.assert(fc.property(configText, (text) => checkConfig(text, file)), params);
  }, timeout);

  describe('response parsers, through the real clients and a real local HTTP server', () => {
    const server = new AnswerServer();
    let clients!: Clients;
    beforeAll(async () => {
      await server.start();
      clients = clientsOf(server.url);
    });
    afterAll(async () => {
      await clients?.close();
      await server.stop();
    });

    it('a 409 naming our own holder (a CP that refuses the retry of a lost answer) says so', async () => {
      server.status = 409;
      server.text = JSON.stringify({ error: { code: 'lease_held', message: 'held' }, holder: 'qr@h:1/r', expires_at: '2026-11-26T05:41:02Z' });
      const err = await clients.cp.acquireLease('rolling-restart', 'qr@h:1/r', 30_000, { retry: false, deadline: Date.now() + 5_000 }).catch((e: unknown) => e);
      expect(err, String((err as Error).message)).toBeInstanceOf(LeaseHeldError);
      expect((err as LeaseHeldError).details.next).toMatch(/answer was lost.*refused the retry/);
      const other = await clients.cp.acquireLease('rolling-restart', 'someone@else:1/r', 30_000, { retry: false, deadline: Date.now() + 5_000 }).catch((e: unknown) => e);
      expect((other as LeaseHeldError).details.next).toBeUndefined();
    });

    for (const t of RESPONSE_TARGETS) {
      it(`${t.name}: the valid answer parses`, async () => {
        server.status = t.status;
        server.text = JSON.stringify(t.sample);
        if (t.status < 300 || t.status === 503) await expect(t.call(clients)).resolves.toBeDefined();
        else await expect(t.call(clients)).rejects.toThrow();
      });
      it(`${t.name}: a bad answer is an error naming the field, never an internal one`, async () => {
        await fc.assert(
          fc.asyncProperty(answerText(t.sample), async (text) => {
            server.status = t.status;
            server.text = text;
            await checkResponse(t, clients);
          }),
          params,
        );
      }, timeout);
    }
  });

  for (const t of HAPROXY_TARGETS) {
    it(`${t.name}: rows, or an UnexpectedAnswer`, () => {
      expect(() => t.parse(t.valid)).not.toThrow();
      fc.assert(fc.property(haproxyText(t.valid), (text) => checkHaproxy(t.parse, text)), params);
    }, timeout);
  }
});
