/**
 * The load clients of `sim load` against a real in-process aedes broker (MQTT 5 and
 * 3.1.1) listening on two ports A and B that share one session store: kicked MQTT 5
 * clients receive DISCONNECT 0x9C with a Server Reference and reconnect to B, 3.1.1
 * clients come back after a plain close, refused CONNECTs (CONNACK 0x9C + reference,
 * return code 3) are followed or rotated past, sessions survive, nothing PUBACKed is
 * lost, and the report says so.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/sim/load/run.js';

interface Broker {
  aedes: Aedes;
  a: number;
  b: number;
  /** CONNECTs accepted per port, by client id. */
  accepted: Map<number, string[]>;
  close(): Promise<void>;
}

async function broker(opts: { refuseOnA?: boolean | ((clientId: string) => boolean) } = {}): Promise<Broker> {
  const aedes = await Aedes.createBroker();
  const servers = [net.createServer(aedes.handle), net.createServer(aedes.handle)];
  for (const s of servers) await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const [a, b] = servers.map((s) => (s.address() as net.AddressInfo).port) as [number, number];
  const accepted = new Map<number, string[]>([
    [a, []],
    [b, []],
  ]);
  const portOf = (client: any): number => client.conn?.localPort ?? client.conn?.socket?.localPort;
  if (opts.refuseOnA) {
    const refuse = opts.refuseOnA;
    aedes.authenticate = (client: any, _u: any, _p: any, done: any) => {
      if (portOf(client) !== a || (typeof refuse === 'function' && !refuse(client.id))) return done(null, true);
      const err: any = new Error('draining');
      err.returnCode = 3;
      err.serverReference = `127.0.0.1:${b}`;
      done(err, false);
    };
  }
  aedes.on('client', (client: any) => accepted.get(portOf(client))?.push(client.id));
  return {
    aedes,
    a,
    b,
    accepted,
    close: async () => {
      for (const s of servers) s.close();
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

let current: Broker | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

describe('load clients against a real broker', () => {
  it('kicked clients come back (MQTT 5 to the Server Reference), nothing PUBACKed is lost', async () => {
    const br = (current = await broker());
    let kicked5 = 0;
    let kicked3 = 0;
    const { report } = await runLoad({
      clients: 12,
      ratePerS: 120,
      targets: [{ host: '127.0.0.1', port: br.a }],
      durationMs: 1_500,
      onPublishing: () => {
        // every client is connected and subscribed here: the kick reaches each one
        for (const c of Object.values((br.aedes as any).clients) as any[]) {
          if (c.version === 5) {
            kicked5++;
            c.disconnect({ reasonCode: 0x9c, properties: { serverReference: `127.0.0.1:${br.b}` } });
          } else {
            kicked3++;
            c.close();
          }
        }
      },
    });
    expect(kicked5).toBe(8);
    expect(kicked3).toBe(4);
    expect(report.clients).toMatchObject({ total: 12, mqtt5: 8, mqtt311: 4, connected_at_end: 12 });
    expect(report.messages.lost).toBe(0);
    expect(report.messages.acked).toBeGreaterThan(0);
    expect(report.messages.delivered).toBeGreaterThanOrEqual(report.messages.acked);
    expect(report.disconnect_reasons).toEqual({ '0x9C': 8, socket_closed: 4 });
    expect(report.server_references).toEqual({ [`127.0.0.1:${br.b}`]: 8 });
    expect(report.mqtt5_disconnects).toEqual({ with_reason: 8, with_server_reference: 8 });
    expect(report.references_followed).toBe(8);
    expect(report.reconnects).toMatchObject({ disconnects: 12, reconnected: 12, never_back: 0 });
    expect(report.sessions_lost).toBe(0);
    // the MQTT 5 clients reconnected to B, the 3.1.1 ones to A again
    const onB = new Set(br.accepted.get(br.b));
    expect(onB.size).toBe(8);
    expect(report.drain.ended_by).toBe('complete');
  });

  it('refused CONNECTs: MQTT 5 follows CONNACK 0x9C to its reference, 3.1.1 moves on after return code 3', async () => {
    const br = (current = await broker({ refuseOnA: true }));
    const { report } = await runLoad({
      clients: 6,
      ratePerS: 60,
      // clients 0, 2, 4 start on A (refused), 1, 3, 5 on B
      targets: [
        { host: '127.0.0.1', port: br.a },
        { host: '127.0.0.1', port: br.b },
      ],
      durationMs: 500,
    });
    // protocols by index (2:1): 0 v5, 1 v5, 2 v3.1.1, 3 v5, 4 v5, 5 v3.1.1 → on A: 0, 4 (v5) and 2 (3.1.1)
    expect(report.connects_refused).toEqual({ '0x9C': 2, 'rc 3 (3.1.1)': 1 });
    expect(report.server_references).toEqual({ [`127.0.0.1:${br.b}`]: 2 });
    expect(report.references_followed).toBe(2);
    expect(br.accepted.get(br.a)).toEqual([]);
    expect(report.clients.connected_at_end).toBe(6);
    expect(report.messages.lost).toBe(0);
  });

  it('--give-up-share: the chosen clients stop for good after a DISCONNECT with a reason code or a refused CONNACK; counted as gave_up, not stranded', async () => {
    // Share 0.5 of 12: clients 1, 3, 5, 7, 9, 11 give up; by the 2:1 mix 1, 3, 7, 9 speak MQTT 5, 5 and 11 MQTT 3.1.1.
    let refuseOnA = false;
    const giveUps3 = new Set(['qrl-gu-5', 'qrl-gu-11']);
    const br = (current = await broker({ refuseOnA: (id) => refuseOnA && giveUps3.has(id) }));
    const { report } = await runLoad({
      clients: 12,
      ratePerS: 120,
      runId: 'gu',
      giveUpShare: 0.5,
      targets: [{ host: '127.0.0.1', port: br.a }],
      durationMs: 1_500,
      onPublishing: () => {
        refuseOnA = true; // from now on A refuses the two 3.1.1 give-up clients (return code 3)
        for (const c of Object.values((br.aedes as any).clients) as any[]) {
          if (c.version === 5) c.disconnect({ reasonCode: 0x9c, properties: { serverReference: `127.0.0.1:${br.b}` } });
          else c.close();
        }
      },
    });
    // MQTT 5 give-up clients stop at the DISCONNECT; 3.1.1 ones retry a plain close, then stop at the refusal.
    expect(report.give_up).toEqual({
      clients: 6,
      gave_up: 6,
      by: { 'DISCONNECT 0x9C': 4, 'CONNACK rc 3 (3.1.1)': 2 },
      ids: ['qrl-gu-1', 'qrl-gu-3', 'qrl-gu-5', 'qrl-gu-7', 'qrl-gu-9', 'qrl-gu-11'],
    });
    expect(report.clients).toMatchObject({ total: 12, connected_at_end: 6, not_connected: [], gave_up: 6 });
    expect(report.reconnects).toMatchObject({ disconnects: 12, reconnected: 6, never_back: 0, gave_up: 6 });
    expect(report.messages.lost).toBe(0);
    // the six that stayed all came back on B (MQTT 5, by the reference) or A (3.1.1)
    expect(new Set(br.accepted.get(br.b))).toEqual(new Set(['qrl-gu-0', 'qrl-gu-4', 'qrl-gu-6', 'qrl-gu-10']));
    expect(report.drain.ended_by).not.toBe('timeout');
  });
});
