/**
 * Which node accepted a CONNECT, seen from outside the broker: straight to the nodes it
 * is the node whose MQTT port the client connected to; behind HAProxy it is the server
 * HAProxy's own session table (`show sess` on the Runtime API) gives for the client's
 * source port, read while the client is still connected. A CONNECT whose session is
 * gone before the lookup stays unidentified (and is reported as such).
 */
import { adminCommand } from '../haproxy.js';

export interface Endpoints {
  /** The client's local port and the port it connected to. */
  localPort: number;
  remotePort: number;
}

export interface Identifier {
  /** Node ids for the given links (missing: not found). */
  lookup(links: readonly Endpoints[]): Promise<Map<Endpoints, string>>;
}

/** Straight to the nodes: the MQTT port names the node. */
export function portIdentifier(nodeByPort: ReadonlyMap<number, string>): Identifier {
  return {
    lookup: async (links) => {
      const out = new Map<Endpoints, string>();
      for (const l of links) {
        const n = nodeByPort.get(l.remotePort);
        if (n) out.set(l, n);
      }
      return out;
    },
  };
}

/** Server name per client source port, from `show sess` output. */
export function parseShowSess(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const src = / src=[^ ]*:(\d+) /.exec(line);
    const srv = / srv=([^ ]+)/.exec(line);
    if (src && srv && srv[1] !== '<none>') out.set(Number(src[1]), srv[1]!);
  }
  return out;
}

/** Behind HAProxy: its session table names the server (= node id) of each client link. */
export function haproxyIdentifier(socketPath: string): Identifier {
  return {
    lookup: async (links) => {
      const out = new Map<Endpoints, string>();
      if (links.length === 0) return out;
      let text: string;
      try {
        text = await adminCommand(socketPath, 'show sess', 5_000);
      } catch {
        return out;
      }
      const bySrc = parseShowSess(text);
      for (const l of links) {
        const n = bySrc.get(l.localPort);
        if (n) out.set(l, n);
      }
      return out;
    },
  };
}
