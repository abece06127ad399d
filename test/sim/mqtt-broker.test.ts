// The simulator's data plane: every node is a real MQTT broker (aedes) with its sessions
// in the shared redis. Real mqtt.js clients, real node processes, real SIGKILLs; no mocks.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSim, type SimHandle } from '../../src/sim/index.js';
import { del, get, post, put, tempDir, waitFor } from '../support/http.js';
import { haproxyInstalled } from '../support/haproxy.js';

interface Conn {
  client: MqttClient;
  connack: { reasonCode?: number; returnCode?: number; sessionPresent: boolean; properties?: { serverReference?: string } };
  messages: Array<{ topic: string; payload: string; retain: boolean }>;
  disconnects: Array<{ reasonCode?: number; serverReference?: string }>;
  closed: Promise<void>;
}

const opened: MqttClient[] = [];

/** Connects and resolves on the CONNACK, accepted or not (no reconnects). */
function connect(port: number, opts: IClientOptions): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
    opened.push(client);
    const messages: Conn['messages'] = [];
    const disconnects: Conn['disconnects'] = [];
    let onClose: () => void = () => undefined;
    const closed = new Promise<void>((r) => (onClose = r));
    client.on('close', () => onClose());
    client.on('error', () => undefined); // refusals surface as the CONNACK below
    client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
    client.on('disconnect', (p) => disconnects.push({ reasonCode: p.reasonCode, serverReference: p.properties?.serverReference }));
    const t = setTimeout(() => reject(new Error(`no CONNACK from 127.0.0.1:${port}`)), 15_000);
    client.on('packetreceive', (p) => {
      if (p.cmd !== 'connack') return;
      clearTimeout(t);
      resolve({ client, connack: p as Conn['connack'], messages, disconnects, closed });
    });
    client.on('close', () => {
      clearTimeout(t);
      reject(new Error(`connection to 127.0.0.1:${port} closed before a CONNACK`));
    });
  });
}

const v5 = (clientId: string, expiry = 300, clean = false): IClientOptions => ({
  protocolVersion: 5,
  clientId,
  clean,
  properties: { sessionExpiryInterval: expiry },
});
const v4 = (clientId: string, clean = false): IClientOptions => ({ protocolVersion: 4, clientId, clean });

/** The value of one sample (`name` with its labels, exactly as exposed); 0 when absent. */
async function metric(adminUrl: string, sample: string): Promise<number> {
  const text = (await get(`${adminUrl}/metrics`)).text;
  const line = text.split('\n').find((l) => l.split(' ')[0] === sample);
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

afterAll(() => {
  for (const c of opened) c.end(true);
});

describe('real MQTT brokers on one shared store', () => {
  let sim: SimHandle;
  const node = (i: number) => {
    const n = sim.nodes[i];
    if (!n) throw new Error(`no node ${i}`);
    return n;
  };
  beforeAll(async () => {
    sim = await startSim({ stateDir: await tempDir(), nodes: 4, racks: 2, prgs: 40, replayMs: 200, sessionsPerNode: 0, rebalance: false });
  });
  afterAll(async () => {
    for (const c of opened) c.end(true);
    await sim?.stop();
  });

  it('active_sessions and /metrics count real connected clients (MQTT 5 and 3.1.1)', async () => {
    const n = node(3);
    const a = await connect(n.mqttPort, v5('m-a'));
    const b = await connect(n.mqttPort, v5('m-b', 0, true));
    const c = await connect(n.mqttPort, v4('m-c'));
    for (const x of [a, b, c]) expect(x.connack.reasonCode ?? x.connack.returnCode).toBe(0);
    await waitFor(async () => (await metric(n.adminUrl, 'quantum_sim_mqtt_clients')) === 3);
    expect(await metric(n.adminUrl, 'quantum_mqtt_active_sessions{listener="mqtt"}')).toBe(3);
    expect(((await get(`${n.adminUrl}/v1/drain`)).json as { active_sessions: number }).active_sessions).toBe(3);
    const ready = (await get(`${n.adminUrl}/readyz`)).json as { listeners: Array<{ active_sessions: number }> };
    expect(ready.listeners[0]?.active_sessions).toBe(3);
    await b.client.endAsync();
    await waitFor(async () => (await metric(n.adminUrl, 'quantum_sim_mqtt_clients')) === 2);
    expect(await metric(n.adminUrl, 'quantum_mqtt_active_sessions{listener="mqtt"}')).toBe(2);
    await a.client.endAsync();
    await c.client.endAsync();
    await waitFor(async () => (await metric(n.adminUrl, 'quantum_mqtt_active_sessions{listener="mqtt"}')) === 0);
  });

  it('a draining node refuses every CONNECT: MQTT 5 gets 0x9C + Server Reference, 3.1.1 return code 3', async () => {
    const n = node(1);
    expect((await put(`${n.adminUrl}/v1/drain`, { reason: 'test', initiator: 't' })).status).toBe(200);
    const codes: number[] = [];
    // The reference rides on heartbeat replies: until the first one it is 0x88 (also a refusal).
    const refused = await waitFor(async () => {
      const r = await connect(n.mqttPort, v5('d-5'));
      codes.push(r.connack.reasonCode ?? -1);
      await r.closed;
      return r.connack.reasonCode === 0x9c ? r : null;
    });
    expect(codes.every((c) => c === 0x9c || c === 0x88)).toBe(true);
    // The next up, ready, non-draining node after node-2.
    expect(refused.connack.properties?.serverReference).toBe(`127.0.0.1:${node(2).mqttPort}`);
    const old = await connect(n.mqttPort, v4('d-4'));
    expect(old.connack.returnCode).toBe(3);
    await old.closed;
    expect(await metric(n.adminUrl, 'quantum_sim_mqtt_clients')).toBe(0);
    expect(await metric(n.adminUrl, 'quantum_sim_connects_refused_total{reason="draining"}')).toBe(codes.length + 1);
    expect((await del(`${n.adminUrl}/v1/drain`)).status).toBe(200);
    const back = await connect(n.mqttPort, v5('d-5'));
    expect(back.connack.reasonCode).toBe(0);
    await back.client.endAsync();
  });

  it('POST /v1/sessions/disconnect: MQTT 5 clients get DISCONNECT with the reason and Server Reference, at the rate, 3.1.1 a close', async () => {
    const n = node(2);
    const fives = await Promise.all(Array.from({ length: 6 }, (_, i) => connect(n.mqttPort, v5(`k5-${i}`))));
    const fours = await Promise.all(Array.from({ length: 2 }, (_, i) => connect(n.mqttPort, v4(`k4-${i}`))));
    await waitFor(async () => (await metric(n.adminUrl, 'quantum_sim_mqtt_clients')) === 8);
    await put(`${n.adminUrl}/v1/drain`, { reason: 'test', initiator: 't' });
    const r = await post(`${n.adminUrl}/v1/sessions/disconnect`, { reason_code: 156, server_reference: 'mqtt-b.example.net:1883', rate_per_s: 5 });
    expect(r.status).toBe(202);
    expect(r.json).toEqual({ requested: 8 });
    const seen: number[] = [];
    await waitFor(async () => {
      const left = ((await get(`${n.adminUrl}/v1/drain`)).json as { active_sessions: number }).active_sessions;
      if (seen.at(-1) !== left) seen.push(left);
      return left === 0;
    }, 20_000, 10);
    // One by one at 5/s, never all at once: the count steps down through intermediate values.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeLessThan(seen[i - 1] ?? Infinity);
    expect(seen.filter((v) => v > 0 && v < 8).length).toBeGreaterThanOrEqual(2);
    await Promise.all([...fives, ...fours].map((c) => c.closed));
    for (const c of fives) expect(c.disconnects).toEqual([{ reasonCode: 156, serverReference: 'mqtt-b.example.net:1883' }]);
    for (const c of fours) expect(c.disconnects).toEqual([]);
    expect(await metric(n.adminUrl, 'quantum_disconnects_total{reason_code="156",cause="drain"}')).toBe(8);
    await del(`${n.adminUrl}/v1/drain`);
  });

  it('a takeover on another node sends the old MQTT 5 link DISCONNECT 0x8E, counted as a failure disconnect, not a drain one', async () => {
    const sample = 'quantum_disconnects_total{reason_code="142",cause="failure"}';
    const before = await metric(node(0).adminUrl, sample);
    const first = await connect(node(0).mqttPort, v5('tk'));
    await first.client.subscribeAsync('tk/t', { qos: 1 });
    const second = await connect(node(3).mqttPort, v5('tk'));
    expect(second.connack.sessionPresent).toBe(true);
    await first.closed;
    expect(first.disconnects).toEqual([{ reasonCode: 0x8e, serverReference: undefined }]);
    expect(await metric(node(0).adminUrl, sample)).toBe(before + 1);
    expect(await metric(node(0).adminUrl, 'quantum_disconnects_total{reason_code="142",cause="drain"}')).toBe(0);
    await second.client.endAsync();
  });

  it('a client silent past its keep-alive is disconnected and counted as a failure disconnect (0x8D)', async () => {
    const n = node(1);
    const sample = 'quantum_disconnects_total{reason_code="141",cause="failure"}';
    const before = await metric(n.adminUrl, sample);
    // A raw MQTT 5 CONNECT with keep-alive 1 s, then silence (no PINGREQ): the broker gives up after 1.5 × keep-alive.
    const sock = net.connect(n.mqttPort, '127.0.0.1');
    let got = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    sock.on('error', () => undefined);
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'ka', keepalive: 1 }));
    await closed;
    expect(got[0], 'a CONNACK came first').toBe(0x20);
    await waitFor(async () => (await metric(n.adminUrl, sample)) > before);
    expect(await metric(n.adminUrl, sample)).toBe(before + 1);
  });

  it('CONNACK is the first packet on a resuming link, even with messages flowing on its topic while the session is restored', async () => {
    // aedes re-subscribes a resuming session before it stores the will and writes the CONNACK;
    // a slow store (the will's delete waits 300 ms) holds that window open while another node
    // publishes on the session's topic every few ms.
    const n = node(0);
    const sub = await connect(n.mqttPort, v5('first-sub'));
    await sub.client.subscribeAsync('first/t', { qos: 1 });
    await sub.client.endAsync();
    const pub = await connect(node(2).mqttPort, v5('first-pub', 0, true));
    let k = 0;
    const flow = setInterval(() => pub.client.publish('first/t', `f${k++}`, { qos: 0 }), 5);
    try {
      await sim.setFaults({ storeLatencyMs: 300 });
      await waitFor(async () => (await metric(n.adminUrl, 'quantum_sim_store_latency_ms')) === 300);
      const heldBefore = await metric(n.adminUrl, 'quantum_sim_publish_held_for_connack_total');
      // A raw link, to see the packets in the order they arrive.
      const sock = net.connect(n.mqttPort, '127.0.0.1');
      const parser = mqttPacket.parser({ protocolVersion: 5 });
      const seen: Array<{ cmd: string; reasonCode?: number; sessionPresent?: boolean }> = [];
      parser.on('packet', (p) => seen.push(p as (typeof seen)[number]));
      sock.on('data', (d: Buffer) => parser.parse(d));
      sock.on('error', () => undefined);
      sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, clientId: 'first-sub', keepalive: 30, properties: { sessionExpiryInterval: 300 } }));
      await waitFor(async () => seen.filter((p) => p.cmd === 'publish').length >= 3, 20_000);
      sock.destroy();
      expect(seen[0]?.cmd, `packets in order: ${seen.map((p) => p.cmd).join(', ')}`).toBe('connack');
      expect(seen[0]?.reasonCode).toBe(0);
      expect(seen[0]?.sessionPresent).toBe(true);
      // The window was real: messages arrived before the CONNACK was written, and were held for it.
      expect(await metric(n.adminUrl, 'quantum_sim_publish_held_for_connack_total')).toBeGreaterThan(heldBefore);
      // And a stock mqtt.js client resuming the same session gets its CONNACK (it never did: it
      // stopped reading at the early PUBLISH and waited out its connect timeout).
      const again = await connect(n.mqttPort, v5('first-sub'));
      expect(again.connack.reasonCode).toBe(0);
      await waitFor(async () => again.messages.length > 0, 20_000);
      await again.client.endAsync();
    } finally {
      clearInterval(flow);
      await sim.setFaults({ storeLatencyMs: 0 });
      await pub.client.endAsync();
    }
  });

  it('a session-expiry timer left on the old node does not wipe a session that resumed elsewhere', async () => {
    const a = node(0);
    const ends = async (): Promise<number> =>
      (await metric(a.adminUrl, 'quantum_sim_session_wipes_total{outcome="wiped"}')) +
      (await metric(a.adminUrl, 'quantum_sim_session_wipes_total{outcome="skipped"}'));
    const before = await ends();
    const e1 = await connect(a.mqttPort, v5('exp', 1));
    await e1.client.subscribeAsync('exp/t', { qos: 1 });
    await e1.client.endAsync(); // clean DISCONNECT: node-1 arms its 1 s expiry timer
    const e2 = await connect(node(3).mqttPort, v5('exp', 300));
    expect(e2.connack.sessionPresent).toBe(true);
    // node-1's timer fires (a session end is decided there) and finds the session owned by node-4's broker.
    await waitFor(async () => (await ends()) > before);
    expect(await metric(a.adminUrl, 'quantum_sim_session_wipes_total{outcome="skipped"}')).toBe(1);
    e2.client.end(true);
    await e2.closed;
    const pub = await connect(node(1).mqttPort, v5('exp-pub', 0, true));
    await pub.client.publishAsync('exp/t', 'queued', { qos: 1 });
    const e3 = await connect(node(2).mqttPort, v5('exp', 300));
    expect(e3.connack.sessionPresent).toBe(true);
    await waitFor(async () => e3.messages.some((m) => m.payload === 'queued'));
    await Promise.all([e3.client.endAsync(), pub.client.endAsync()]);
  });

  it('a session survives SIGKILL of its node: subscriptions, offline queue and retained messages resume elsewhere (5 and 3.1.1)', async () => {
    const victim = node(2);
    const s5 = await connect(victim.mqttPort, v5('h5'));
    const s4 = await connect(victim.mqttPort, v4('h4'));
    await s5.client.subscribeAsync('h/#', { qos: 1 });
    await s4.client.subscribeAsync('h/#', { qos: 1 });
    const pub = await connect(node(0).mqttPort, v5('h-pub', 0, true));
    await pub.client.publishAsync('h/retained', 'R', { qos: 1, retain: true });
    await waitFor(async () => s5.messages.length >= 1 && s4.messages.length >= 1);
    const brokerId = async (): Promise<string | undefined> => /quantum_sim_broker_info\{broker_id="([^"]+)"\}/.exec((await get(`${victim.adminUrl}/metrics`)).text)?.[1];
    const before = await brokerId();
    expect(before).toBeTruthy();
    await sim.stopNode(victim.id); // SIGKILL
    await Promise.all([s5.closed, s4.closed]);
    for (let i = 0; i < 5; i++) await pub.client.publishAsync('h/q', `q${i}`, { qos: 1 });
    const r5 = await connect(node(3).mqttPort, v5('h5'));
    const r4 = await connect(node(1).mqttPort, v4('h4'));
    expect(r5.connack.sessionPresent).toBe(true);
    expect(r4.connack.sessionPresent).toBe(true);
    const want = ['q0', 'q1', 'q2', 'q3', 'q4'];
    for (const r of [r5, r4]) await waitFor(async () => want.every((w) => r.messages.some((m) => m.payload === w)));
    // The subscription itself came back: new messages flow without subscribing again.
    await pub.client.publishAsync('h/after', 'A', { qos: 1 });
    for (const r of [r5, r4]) await waitFor(async () => r.messages.some((m) => m.payload === 'A'));
    const fresh = await connect(node(3).mqttPort, v5('h-fresh', 0, true));
    await fresh.client.subscribeAsync('h/retained', { qos: 1 });
    await waitFor(async () => fresh.messages.some((m) => m.payload === 'R' && m.retain));
    await Promise.all([r5, r4, pub, fresh].map((c) => c.client.endAsync()));
    // The restarted node: a fresh broker identity, and the sessions still in the store.
    await sim.restartNode(victim.id);
    await waitFor(async () => (await get(`${victim.adminUrl}/readyz`)).status === 200);
    const after = await brokerId();
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
    const back = await connect(victim.mqttPort, v5('h5'));
    expect(back.connack.sessionPresent).toBe(true);
    await back.client.endAsync();
  });

  it('ack after store: QoS 1 messages PUBACKed just before a SIGKILL reach the subscriber after it resumes elsewhere', async () => {
    // A slow store widens the window between PUBACK and store that an early ack would fall into.
    await sim.setFaults({ storeLatencyMs: 30 });
    const victim = node(1);
    await waitFor(async () => (await metric(victim.adminUrl, 'quantum_sim_store_latency_ms')) === 30);
    const sub = await connect(victim.mqttPort, v5('ack-sub'));
    await sub.client.subscribeAsync('ack/t', { qos: 1 });
    const other = await connect(node(0).mqttPort, v4('ack-sub4'));
    await other.client.subscribeAsync('ack/t', { qos: 1 });
    const pub = await connect(victim.mqttPort, v5('ack-pub', 0, true));
    const acked = new Set<string>();
    let killed: Promise<void> | null = null;
    for (let i = 0; i < 40; i++) {
      const payload = `a${i}`;
      pub.client.publish('ack/t', payload, { qos: 1 }, (err) => {
        if (err) return;
        acked.add(payload);
        if (acked.size >= 8 && !killed) killed = sim.stopNode(victim.id); // SIGKILL right after the 8th PUBACK
      });
    }
    await waitFor(async () => killed !== null, 20_000);
    await killed;
    await sub.closed;
    const resumed = await connect(node(3).mqttPort, v5('ack-sub'));
    expect(resumed.connack.sessionPresent).toBe(true);
    expect(acked.size).toBeGreaterThanOrEqual(8);
    const got = (c: Conn): Set<string> => new Set(c.messages.map((m) => m.payload));
    await waitFor(async () => {
      const s = new Set([...got(sub), ...got(resumed)]);
      return [...acked].every((a) => s.has(a)) && [...acked].every((a) => got(other).has(a));
    }, 20_000);
    await sim.setFaults({ storeLatencyMs: 0 });
    await Promise.all([resumed.client.endAsync(), other.client.endAsync()]);
    await sim.restartNode(victim.id);
  });
});

const hx = haproxyInstalled() ? describe : describe.skip;

hx('behind the real HAProxy front door', () => {
  let sim: SimHandle;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await tempDir();
    sim = await startSim({ stateDir, nodes: 3, racks: 3, prgs: 30, replayMs: 200, sessionsPerNode: 0, lb: 'haproxy', lbCheckIntervalMs: 100 });
  });
  afterAll(async () => {
    for (const c of opened) c.end(true);
    await sim?.stop();
  });
  const info = () =>
    JSON.parse(fs.readFileSync(path.join(stateDir, 'sim.json'), 'utf8')) as { haproxy: { frontendPort: number }; redis: { pid: number } };

  it('clients connect through the front door; refusals and DISCONNECTs point back at it', async () => {
    const front = info().haproxy.frontendPort;
    const a = await connect(front, v5('fd-a'));
    const b = await connect(front, v5('fd-b', 0, true));
    await a.client.subscribeAsync('fd/t', { qos: 1 });
    await b.client.publishAsync('fd/t', 'hello', { qos: 1 });
    await waitFor(async () => a.messages.some((m) => m.payload === 'hello'));
    const n = sim.nodes[0];
    if (!n) throw new Error('no node');
    const onNode = await connect(n.mqttPort, v5('fd-x'));
    await put(`${n.adminUrl}/v1/drain`, { reason: 'test', initiator: 't' });
    const refused = await waitFor(async () => {
      const r = await connect(n.mqttPort, v5('fd-c'));
      await r.closed;
      return r.connack.reasonCode === 0x9c ? r : null;
    });
    expect(refused.connack.properties?.serverReference).toBe(`127.0.0.1:${front}`);
    // 0x9C without a server_reference in the request: the node's own reference, the front door.
    expect((await post(`${n.adminUrl}/v1/sessions/disconnect`, { reason_code: 156, rate_per_s: 1000 })).status).toBe(202);
    await onNode.closed;
    expect(onNode.disconnects).toEqual([{ reasonCode: 156, serverReference: `127.0.0.1:${front}` }]);
    // HAProxy's own check took the drained node out: the front door still accepts.
    const direct = await waitFor(async () => {
      const r = await connect(front, v5('fd-d'));
      return r.connack.reasonCode === 0 ? r : null;
    });
    await direct.client.endAsync();
    await del(`${n.adminUrl}/v1/drain`);
    await Promise.all([a.client.endAsync(), b.client.endAsync()]);
  });

  it('the generated config disconnects with 0x9C pointing at the front door', () => {
    const cfg = parse(fs.readFileSync(sim.configPath, 'utf8')) as { quiesce: Record<string, unknown> };
    expect(cfg.quiesce.disconnect).toEqual({ reason_code: 156, rate_per_s: 500, server_reference: `127.0.0.1:${info().haproxy.frontendPort}` });
  });

  it('sim stop leaves no redis-server behind', async () => {
    const pid = info().redis.pid;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await sim.stop();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('losing the session store', () => {
  it('does not crash a node: CONNECTs are refused as "server unavailable" until it is back', async () => {
    const stateDir = await tempDir();
    const sim = await startSim({ stateDir, nodes: 2, racks: 2, prgs: 10, replayMs: 0, sessionsPerNode: 0 });
    try {
      const n = sim.nodes[0];
      if (!n) throw new Error('no node');
      const ok = await connect(n.mqttPort, v5('rl-a'));
      expect(ok.connack.reasonCode).toBe(0);
      const { redis } = JSON.parse(fs.readFileSync(path.join(stateDir, 'sim.json'), 'utf8')) as { redis: { pid: number } };
      process.kill(redis.pid, 'SIGKILL');
      const refused = await waitFor(async () => {
        const r = await connect(n.mqttPort, v5(`rl-b`)).catch(() => null);
        if (!r) return null;
        await r.closed;
        return r.connack.reasonCode === 0x88 ? r : null;
      }, 20_000);
      expect(refused.connack.reasonCode).toBe(0x88);
      for (const x of sim.nodes) expect((await get(`${x.adminUrl}/livez`)).status).toBe(200);
      expect((await sim.events()).filter((e) => e.event === 'process_down')).toEqual([]);
      ok.client.end(true);
    } finally {
      await sim.stop();
    }
  });
});

describe('a listener at its max_sessions', () => {
  let sim: SimHandle;
  beforeAll(async () => {
    sim = await startSim({ stateDir: await tempDir(), nodes: 2, racks: 2, prgs: 10, replayMs: 200, sessionsPerNode: 0, maxSessions: 2, rebalance: false });
  });
  afterAll(async () => {
    for (const c of opened) c.end(true);
    await sim?.stop();
  });

  it('refuses the next CONNECT (MQTT 5: 0x9C to another node, 3.1.1: return code 3) and takes one again once a session ends', async () => {
    const [a, b] = sim.nodes as [SimHandle['nodes'][number], SimHandle['nodes'][number]];
    const one = await connect(a.mqttPort, v5('cap-1', 0, true));
    const two = await connect(a.mqttPort, v4('cap-2', true));
    expect(one.connack.reasonCode ?? 0).toBe(0);
    expect(two.connack.returnCode ?? 0).toBe(0);
    const ready = (await get(`${a.adminUrl}/readyz`)).json as { listeners: Array<{ active_sessions: number; max_sessions: number }> };
    expect(ready.listeners[0]).toMatchObject({ active_sessions: 2, max_sessions: 2 });
    const five = await connect(a.mqttPort, v5('cap-3', 0, true));
    expect(five.connack.reasonCode).toBe(0x9c);
    expect(five.connack.properties?.serverReference).toBe(`127.0.0.1:${b.mqttPort}`);
    const four = await connect(a.mqttPort, v4('cap-4', true));
    expect(four.connack.returnCode).toBe(3);
    expect(await metric(a.adminUrl, 'quantum_sim_connects_refused_total{reason="full"}')).toBe(2);
    // The other node has room: the referred client gets in there.
    const moved = await connect(b.mqttPort, v5('cap-3', 0, true));
    expect(moved.connack.reasonCode ?? 0).toBe(0);
    await one.client.endAsync();
    await waitFor(async () => ((await get(`${a.adminUrl}/readyz`)).json as { listeners: Array<{ active_sessions: number }> }).listeners[0]!.active_sessions === 1);
    const again = await connect(a.mqttPort, v5('cap-5', 0, true));
    expect(again.connack.reasonCode ?? 0).toBe(0);
  });
});
