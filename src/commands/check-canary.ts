/** `check`'s canary line: one MQTT round trip through the front door. */
import type { Config } from '../config/schema.js';
import type { CheckResult } from './check.js';

/**
 * The canary's front door, when `canary` is configured: one round trip through it as a
 * client would make it (CONNECT, SUBSCRIBE, PUBLISH QoS 1 to a canary topic, receive,
 * DISCONNECT). It changes nothing of the cluster; a front door that cannot carry a
 * message would refuse a run (exit 3) at its precheck.
 */
export async function canaryChecks(config: Config, runId: string): Promise<CheckResult[]> {
  const c = config.canary;
  if (!c) return [];
  const { MqttCanary, describeFailure } = await import('../clients/mqtt-canary.js');
  const r = await new MqttCanary({ config: c, runId }).roundTrip(c.front_door);
  if (r.ok) {
    return [{ name: 'canary front door', status: 'pass', detail: `MQTT round trip in ${r.total_ms} ms (CONNACK ${r.connect_ms} ms, delivery ${r.delivery_ms} ms)`, endpoint: c.front_door, key: 'canary.front_door' }];
  }
  return [
    {
      name: 'canary front door',
      status: 'fail',
      detail: describeFailure(r),
      endpoint: c.front_door,
      key: 'canary.front_door',
      fix: 'a run would refuse at its precheck: check the LB\'s MQTT listener, the canary TLS settings and credentials',
    },
  ];
}
