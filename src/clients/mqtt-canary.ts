/**
 * The MQTT canary client (issue 12): the only proof that a client can use a node is a
 * client using it. One round trip = CONNECT (clean session, unique client id), SUBSCRIBE
 * QoS 1 to a topic of its own, PUBLISH QoS 1, receive it, DISCONNECT; timed. And a probe
 * that a CONNECT is refused (a drained node's listener). mqtt.js is loaded only when a
 * canary is configured and first used: start-up time matters.
 *
 * Failures are values naming the address and what failed: `tcp` (ECONNREFUSED, …), `tls`,
 * `connack` (its reason code), `closed` (the socket closed before a CONNACK), `protocol`
 * (not an MQTT server), `timeout` (no CONNACK / SUBACK / message within the timeout).
 * Credentials never reach a message.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { CanaryConfig } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';

export type CanaryFailureKind = 'tcp' | 'tls' | 'connack' | 'closed' | 'protocol' | 'timeout';

export interface CanaryFailure {
  kind: CanaryFailureKind;
  /** host:port */
  endpoint: string;
  /** the CONNACK reason code (MQTT 5) or return code (3.1.1), for `connack` */
  reasonCode?: number;
  /** the OS / TLS error code, for `tcp` and `tls` */
  code?: string;
  /** what failed, for a person */
  detail: string;
}

export interface RoundTrip {
  ok: true;
  endpoint: string;
  /** CONNECT sent → CONNACK (TCP and TLS handshakes included) */
  connect_ms: number;
  /** PUBLISH sent → the message delivered back */
  delivery_ms: number;
  /** the whole round trip, DISCONNECT included */
  total_ms: number;
  topic: string;
}

export type RoundTripResult = RoundTrip | ({ ok: false } & CanaryFailure);

export type RefusalResult =
  | { refused: true; endpoint: string; how: string; reasonCode?: number }
  | { refused: false; endpoint: string; detail: string; failure?: CanaryFailure };

/** CONNACK codes that mean "not here, not now": the drained node's answers. */
const REFUSAL_CODES = new Map<number, string>([
  [0x9c, 'CONNACK 0x9C use another server'],
  [0x9d, 'CONNACK 0x9D server moved'],
  [0x88, 'CONNACK 0x88 server unavailable'],
  [0x89, 'CONNACK 0x89 server busy'],
]);

const CONNACK_TEXT: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
  0x80: 'unspecified error',
  0x84: 'unsupported protocol version',
  0x85: 'client identifier not valid',
  0x86: 'bad user name or password',
  0x87: 'not authorized',
  0x88: 'server unavailable',
  0x89: 'server busy',
  0x8a: 'banned',
  0x8c: 'bad authentication method',
  0x97: 'quota exceeded',
  0x9c: 'use another server',
  0x9d: 'server moved',
};

const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
export const connackText = (code: number): string => `${hex(code)}${CONNACK_TEXT[code] ? ` ${CONNACK_TEXT[code]}` : ''}`;

/** One line for a failure: "tcp: 127.0.0.1:1 refused the connection (ECONNREFUSED)". */
export function describeFailure(f: CanaryFailure): string {
  return `${f.kind}: ${f.detail}`;
}

const TCP_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EADDRNOTAVAIL']);

function classify(err: unknown, endpoint: string): CanaryFailure {
  const e = err as { code?: string | number; message?: string };
  const msg = e?.message ?? String(err);
  if (typeof e?.code === 'number') {
    return { kind: 'connack', endpoint, reasonCode: e.code, detail: `${endpoint} refused the CONNECT: CONNACK ${connackText(e.code)}` };
  }
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && TCP_CODES.has(code)) {
    const what = code === 'ECONNREFUSED' ? 'refused the connection' : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'does not resolve' : 'is unreachable';
    return { kind: 'tcp', endpoint, code, detail: `${endpoint} ${what} (${code})` };
  }
  if (code && /^(ERR_TLS|ERR_SSL|ERR_OSSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/.test(code)) {
    return { kind: 'tls', endpoint, code, detail: `TLS with ${endpoint} failed (${code}): ${msg}` };
  }
  if (/Invalid header flag bits|Invalid|Parse|Malformed|packet/i.test(msg)) {
    return { kind: 'protocol', endpoint, detail: `${endpoint} does not speak MQTT (${msg})` };
  }
  return { kind: 'tcp', endpoint, ...(code ? { code } : {}), detail: `${endpoint}: ${msg}` };
}

type MqttModule = typeof import('mqtt');
let mqttModule: Promise<MqttModule> | undefined;
/**
 * mqtt.js, loaded on first use only. It is CommonJS: its module.exports is the default
 * export under Node and in the bundle alike (the bundle's lazy chunk has no named exports).
 */
function loadMqtt(): Promise<MqttModule> {
  return (mqttModule ??= import('mqtt').then((m) => ((m as { default?: MqttModule }).default ?? m) as MqttModule));
}

interface Credentials {
  username?: string;
  password?: string;
}

function credentials(c: CanaryConfig, env: NodeJS.ProcessEnv): Credentials {
  const out: Credentials = {};
  if (c.username_env) out.username = env[c.username_env];
  if (c.password_env) out.password = env[c.password_env];
  else if (c.password_file) out.password = readFileSync(c.password_file, 'utf8').replace(/\r?\n$/, '');
  return out;
}

export interface CanaryClientOptions {
  config: CanaryConfig;
  /** the run id: topics and client ids carry it */
  runId: string;
  env?: NodeJS.ProcessEnv;
}

/** A canary bound to one run's config: `roundTrip(endpoint)` and `refusesConnect(endpoint)`. */
export class MqttCanary {
  private n = 0;
  private readonly nonce = randomBytes(3).toString('hex');

  constructor(private readonly o: CanaryClientOptions) {}

  private clientId(): string {
    // ≤ 23 characters is all MQTT 3.1.1 promises a server accepts.
    return `qr-${this.o.runId.replace(/[^A-Za-z0-9]/g, '').slice(-8)}-${this.nonce}-${++this.n}`.slice(0, 23);
  }

  private async open(endpoint: string): Promise<{ client: MqttClient; failure: Promise<CanaryFailure>; connected: Promise<void> }> {
    const { connect } = await loadMqtt();
    const c = this.o.config;
    const tls = c.tls;
    const [host, port] = splitHostPort(endpoint);
    const client = connect({
      protocol: tls ? 'mqtts' : 'mqtt',
      host,
      port,
      protocolVersion: c.protocol,
      clientId: this.clientId(),
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: c.timeout,
      keepalive: 30,
      ...credentials(c, this.o.env ?? process.env),
      ...(tls
        ? {
            ...(tls.ca_file ? { ca: readFileSync(tls.ca_file) } : {}),
            ...(tls.cert_file && tls.key_file ? { cert: readFileSync(tls.cert_file), key: readFileSync(tls.key_file) } : {}),
            rejectUnauthorized: tls.insecure_skip_verify !== true,
            servername: /^[\d.]+$|^\[/.test(host) ? undefined : host,
          }
        : {}),
    });
    let connectedOk = false;
    const failure = new Promise<CanaryFailure>((resolve) => {
      client.on('error', (err) => resolve(classify(err, endpoint)));
      client.on('close', () => {
        if (!connectedOk) resolve({ kind: 'closed', endpoint, detail: `${endpoint} closed the connection before a CONNACK` });
      });
    });
    const connected = new Promise<void>((resolve) =>
      client.once('connect', () => {
        connectedOk = true;
        resolve();
      }),
    );
    return { client, failure, connected };
  }

  /** CONNECT, SUBSCRIBE QoS 1, PUBLISH QoS 1, receive it, DISCONNECT: timed, or what failed. */
  async roundTrip(endpoint: string): Promise<RoundTripResult> {
    const timeout = this.o.config.timeout;
    const topic = `${this.o.config.topic_prefix}/${this.o.runId}/${this.n + 1}`;
    await loadMqtt(); // the module's load is not the node's latency
    const t0 = performance.now();
    const { client, failure, connected } = await this.open(endpoint);
    const fail = (f: CanaryFailure): RoundTripResult => ({ ok: false, ...f });
    let timer: NodeJS.Timeout | undefined;
    const within = <T>(p: Promise<T>, what: string): Promise<T | CanaryFailure> =>
      Promise.race([
        p,
        failure,
        new Promise<CanaryFailure>((resolve) => {
          timer = setTimeout(() => resolve({ kind: 'timeout', endpoint, detail: `no ${what} from ${endpoint} within ${formatDuration(timeout)}` }), timeout);
        }),
      ]).finally(() => clearTimeout(timer));
    const isFailure = (v: unknown): v is CanaryFailure => typeof v === 'object' && v !== null && 'kind' in v;
    try {
      const c = await within(connected, 'CONNACK');
      if (isFailure(c)) return fail(c);
      const connect_ms = performance.now() - t0;
      const payload = `${this.nonce}-${this.n}-${Date.now()}`;
      const received = new Promise<number>((resolve) =>
        client.on('message', (t, p) => {
          if (t === topic && p.toString() === payload) resolve(performance.now());
        }),
      );
      const sub = await within(
        new Promise<void>((resolve, reject) =>
          client.subscribe(topic, { qos: 1 }, (err, granted) => {
            if (err) return reject(err);
            const code = granted?.[0]?.qos;
            if (code !== undefined && code >= 0x80) return reject(Object.assign(new Error(`SUBACK refused the subscription (${hex(code)})`), { suback: code }));
            resolve();
          }),
        ).catch((err: Error) => ({ kind: 'protocol' as const, endpoint, detail: `SUBSCRIBE ${topic} at ${endpoint} failed: ${err.message}` })),
        'SUBACK',
      );
      if (isFailure(sub)) return fail(sub);
      const t1 = performance.now();
      client.publish(topic, payload, { qos: 1 }, () => undefined);
      const got = await within(received, `delivery of the PUBLISH to ${topic}`);
      if (isFailure(got)) return fail(got);
      const delivery_ms = got - t1;
      await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
      return { ok: true, endpoint, connect_ms: round(connect_ms), delivery_ms: round(delivery_ms), total_ms: round(performance.now() - t0), topic };
    } finally {
      client.end(true);
    }
  }

  /**
   * One CONNECT to `endpoint`: accepted (the client still open, for the caller to end),
   * failed (how), or no answer within the canary's timeout; with the ms it took.
   */
  private async connectOnce(endpoint: string): Promise<{ r: 'accepted' | 'timeout' | CanaryFailure; ms: number; client: MqttClient }> {
    const timeout = this.o.config.timeout;
    await loadMqtt(); // the module's load is not the node's latency
    const t0 = performance.now();
    const { client, failure, connected } = await this.open(endpoint);
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      connected.then(() => 'accepted' as const),
      failure,
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeout))),
    ]).finally(() => clearTimeout(timer));
    return { r, ms: round(performance.now() - t0), client };
  }

  /**
   * CONNECT → CONNACK, then DISCONNECT: how long a new client waits for a broker behind
   * `endpoint` right now (the quiesce's front-door signal). A timeout is a value too: the
   * time waited, with `timedOut`.
   */
  async connectTime(endpoint: string): Promise<{ ok: true; endpoint: string; connect_ms: number; timedOut: boolean } | ({ ok: false } & CanaryFailure)> {
    const { r, ms, client } = await this.connectOnce(endpoint);
    try {
      if (r === 'accepted') {
        await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
        return { ok: true, endpoint, connect_ms: ms, timedOut: false };
      }
      if (r === 'timeout') return { ok: true, endpoint, connect_ms: ms, timedOut: true };
      return { ok: false, ...r };
    } finally {
      client.end(true);
    }
  }

  /** A CONNECT must be refused (a drained node): CONNACK 0x9C/0x9D/0x88/0x89, return code 3, or a closed socket. */
  async refusesConnect(endpoint: string): Promise<RefusalResult> {
    const timeout = this.o.config.timeout;
    const { r, client } = await this.connectOnce(endpoint);
    try {
      if (r === 'accepted') return { refused: false, endpoint, detail: `${endpoint} accepted a new CONNECT (CONNACK 0x00) while drained` };
      if (r === 'timeout') return { refused: false, endpoint, detail: `${endpoint} neither accepted nor refused a CONNECT within ${formatDuration(timeout)}` };
      if (r.kind === 'closed') return { refused: true, endpoint, how: 'socket closed before a CONNACK' };
      if (r.kind === 'tcp' && r.code === 'ECONNREFUSED') return { refused: true, endpoint, how: 'connection refused (ECONNREFUSED)' };
      if (r.kind === 'connack' && r.reasonCode !== undefined) {
        const how = REFUSAL_CODES.get(r.reasonCode) ?? (r.reasonCode === 3 ? 'CONNACK return code 3 server unavailable' : undefined);
        if (how) return { refused: true, endpoint, how, reasonCode: r.reasonCode };
      }
      return { refused: false, endpoint, detail: `the CONNECT to ${endpoint} failed in a way that is not a drain refusal: ${describeFailure(r)}`, failure: r };
    } finally {
      client.end(true);
    }
  }
}

/** ms to a tenth, as the canary reports every time. */
export const round = (ms: number) => Math.round(ms * 10) / 10;

export function splitHostPort(endpoint: string): [string, number] {
  const i = endpoint.lastIndexOf(':');
  const host = endpoint.slice(0, i).replace(/^\[|\]$/g, '');
  return [host, Number(endpoint.slice(i + 1))];
}
