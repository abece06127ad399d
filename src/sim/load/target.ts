/**
 * Where load clients connect: the front door given on the command line, else the
 * simulator's HAProxy frontend (sim.json `haproxy.frontendPort`), else every node's MQTT
 * port (clients rotate through them, as a client configured with a broker list does).
 * Also reads a Server Reference (`host:port`, `[v6]:port`, `mqtt://host:port`, several
 * separated by spaces: the first is taken).
 */
import type { SimInfo } from '../config-files.js';
import { type Identifier, haproxyIdentifier, portIdentifier } from './identify.js';

export interface Target {
  host: string;
  port: number;
}

export const targetLabel = (t: Target): string => (t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`);

/** Parses `host:port` (or the first entry of a Server Reference). Null when it names no usable endpoint. */
export function parseHostPort(text: string, defaultPort = 1883): Target | null {
  const first = text.trim().split(/\s+/)[0] ?? '';
  if (!first) return null;
  const bare = first.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(bare);
  let host: string;
  let port: number;
  if (v6) {
    host = v6[1]!;
    port = v6[2] ? Number(v6[2]) : defaultPort;
  } else {
    const i = bare.lastIndexOf(':');
    if (i >= 0 && bare.indexOf(':') !== i) return null; // unbracketed IPv6 with a port is ambiguous
    host = i >= 0 ? bare.slice(0, i) : bare;
    port = i >= 0 ? Number(bare.slice(i + 1)) : defaultPort;
  }
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

export interface FrontDoor {
  targets: Target[];
  /** Behind the simulator's HAProxy: its Runtime API socket (to read which server took a link). */
  haproxySocket?: string;
  /** Straight to the simulator's nodes: node id per MQTT port. */
  nodeByPort?: Map<number, string>;
  /** `haproxy` (the sim's frontend), `nodes` (straight to the brokers) or `given`. */
  kind: 'given' | 'haproxy' | 'nodes';
  note?: string;
}

/** How to tell which node accepted a link through this front door (none for a foreign `--front-door`). */
export function identifierFor(door: FrontDoor): Identifier | undefined {
  if (door.haproxySocket) return haproxyIdentifier(door.haproxySocket);
  if (door.nodeByPort) return portIdentifier(door.nodeByPort);
  return undefined;
}

/** The front door from an explicit `host:port` or a running simulator's sim.json. */
export function frontDoor(given: string | undefined, info: SimInfo | null): FrontDoor {
  if (given) {
    const t = parseHostPort(given);
    if (!t) throw new Error(`--front-door must be host:port, got "${given}"`);
    return { targets: [t], kind: 'given' };
  }
  if (!info) throw new Error('no front door: pass --front-door host:port, or --state-dir of a running simulator (its sim.json names the ports)');
  if (info.haproxy?.frontendPort) return { targets: [{ host: '127.0.0.1', port: info.haproxy.frontendPort }], kind: 'haproxy', haproxySocket: info.haproxy.socket };
  if (info.nodes.length === 0) throw new Error(`the simulator in ${info.stateDir} has no nodes to connect to`);
  return {
    targets: info.nodes.map((n) => ({ host: '127.0.0.1', port: n.mqttPort })),
    kind: 'nodes',
    nodeByPort: new Map(info.nodes.map((n) => [n.mqttPort, n.id])),
    note: 'no HAProxy in front of this simulator: clients connect straight to the nodes, rotating through their MQTT ports on every reconnect',
  };
}
