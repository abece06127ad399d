/**
 * The seed's promise, measured: `restart --all --parallel auto` of a cluster of real MQTT
 * brokers behind a real HAProxy, under 50 MQTT clients (2:1 MQTT 5 : 3.1.1, persistent
 * sessions, QoS 1 to a peer) that reconnect through the front door. Nothing PUBACKed is
 * lost, no draining node accepts a CONNECT (checked against the simulator's own drain
 * record, the node behind each link read from HAProxy's session table), every client is
 * connected at the end, and MQTT 5 clients receive the configured DISCONNECT reason code
 * and Server Reference.
 */
import { describe, expect, it } from 'vitest';
import { readSimJson } from '../../src/sim/index.js';
import { findRedisServer } from '../../src/sim/redis.js';
import { drainWindows, frontDoor, identifierFor, readCalls, runLoad, targetLabel } from '../../src/sim/load/index.js';
import { startCluster } from '../support/cli.js';
import { haproxyInstalled } from '../support/haproxy.js';

const redis = findRedisServer() !== undefined;
if (!redis) console.warn('\n!! redis-server is NOT installed: the MQTT roll test is SKIPPED (apt-get install -y redis-server)\n');

describe.skipIf(!haproxyInstalled() || !redis)('a whole roll under MQTT load through a real HAProxy', () => {
  it('restart --all --parallel auto under 50 clients: 0 lost, no CONNECT accepted while draining, all back, 0x9C + Server Reference', { timeout: 300_000 }, async () => {
    const c = await startCluster({ nodes: 5, racks: 3, prgs: 60, replayMs: 300, sessionsPerNode: 0, lb: 'haproxy', rawProbeMs: 0 });
    try {
      const info = readSimJson(c.dir);
      const door = frontDoor(undefined, info);
      expect(door.kind).toBe('haproxy');
      const reference = targetLabel(door.targets[0]!);
      await c.patchConfig((cfg) => {
        cfg.quiesce = { ...cfg.quiesce, disconnect: { reason_code: 156, server_reference: reference, rate_per_s: 500 } };
      });
      let roll: Promise<{ code: number; stderr: string }> | undefined;
      let rolled = false;
      const { report } = await runLoad({
        clients: 50,
        ratePerS: 100,
        targets: door.targets,
        identifier: identifierFor(door),
        // The roll starts once every client is connected, subscribed and has had a PUBACK.
        onSteady: () => {
          roll = c.cli(['restart', '--all', '--parallel', 'auto', '--yes']).finally(() => (rolled = true));
        },
        until: () => rolled,
        drainTimeoutMs: 60_000,
        drainWindows: (until) => {
          const lines = readCalls(`${c.dir}/calls.ndjson`);
          return lines ? drainWindows(lines, until) : null;
        },
      });
      const r = await roll!;
      expect(r.code, r.stderr).toBe(0);
      const stats = await c.sim.stats();
      expect(Object.values(stats.restarts)).toEqual([1, 1, 1, 1, 1]);

      // nothing PUBACKed is lost, and the load really ran through the roll
      expect(report.messages.lost, JSON.stringify(report.lost_samples)).toBe(0);
      expect(report.messages.acked).toBeGreaterThan(0);
      expect(report.messages.delivered).toBeGreaterThanOrEqual(report.messages.acked);
      expect(report.sessions_lost).toBe(0);
      // every client is connected at the end
      expect(report.clients).toMatchObject({ total: 50, mqtt5: 34, mqtt311: 16, connected_at_end: 50, not_connected: [] });
      expect(report.reconnects.never_back).toBe(0);
      // no CONNECT accepted by a draining node: every drain of the roll is in the record, and links were identified
      const windows = drainWindows(readCalls(`${c.dir}/calls.ndjson`)!, Number.POSITIVE_INFINITY);
      expect(new Set(windows.map((w) => w.node)).size).toBe(5);
      expect(report.draining_accepts).not.toBeNull();
      expect(report.draining_accepts!.accepted_while_draining, JSON.stringify(report.draining_accepts!.samples)).toBe(0);
      expect(report.draining_accepts!.checked).toBeGreaterThan(50);
      // MQTT 5 clients were told why and where: DISCONNECT 0x9C with the configured reference, and followed it
      expect(report.disconnect_reasons['0x9C']).toBeGreaterThan(0);
      expect(report.mqtt5_disconnects.with_server_reference).toBeGreaterThan(0);
      expect(Object.keys(report.server_references)).toEqual([reference]);
      expect(report.references_followed).toBeGreaterThan(0);
    } finally {
      await c.stop();
    }
  });
});
