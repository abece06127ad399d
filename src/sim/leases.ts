// Maintenance leases, exactly as apis.md: one holder at a time, TTL expiry, token-guarded
// renew and release; a POST by the current holder is a retry (200, the same lease).
// The `leaseHeldBy` fault makes `rolling-restart` held by a stranger.
import crypto from 'node:crypto';
import { error, isObject, isoNow, json, type Ctx, type Reply } from './http-kit.js';

interface Lease {
  name: string;
  holder: string;
  token: string;
  expiresAt: number;
}

const FAULT_LEASE = 'rolling-restart';

export class LeaseStore {
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly heldBy: () => string | null) {}

  private current(name: string): Lease | null {
    const stranger = this.heldBy();
    if (stranger && name === FAULT_LEASE) {
      const l = this.leases.get(name);
      if (!l || l.holder !== stranger || l.expiresAt - Date.now() < 20_000) {
        this.leases.set(name, { name, holder: stranger, token: 'fault-' + crypto.randomBytes(8).toString('hex'), expiresAt: Date.now() + 30_000 });
      }
    } else if (name === FAULT_LEASE && this.leases.get(name)?.token.startsWith('fault-')) {
      // The knob was cleared: the stranger is done and releases its lease (rather than leaving it to expire).
      this.leases.delete(name);
    }
    const l = this.leases.get(name);
    if (!l) return null;
    if (l.expiresAt <= Date.now()) {
      this.leases.delete(name);
      return null;
    }
    return l;
  }

  handle(ctx: Ctx, name: string | undefined): Reply {
    if (name === undefined) {
      if (ctx.method !== 'POST') return error(405, 'method_not_allowed', 'method not allowed');
      return this.acquire(ctx);
    }
    if (ctx.method === 'GET') {
      const l = this.current(name);
      if (!l) return error(404, 'no_lease', `lease ${name} is free`);
      return json(200, { name, holder: l.holder, expires_at: isoNow(l.expiresAt) });
    }
    if (ctx.method === 'PUT') return this.renew(ctx, name);
    if (ctx.method === 'DELETE') {
      const token = ctx.query.get('token');
      if (!token) return error(400, 'missing_token', 'token query parameter required');
      const l = this.current(name);
      if (!l) return { status: 204 };
      if (l.token !== token) return error(409, 'lease_held', `lease ${name} is held by ${l.holder}`, { holder: l.holder, expires_at: isoNow(l.expiresAt) });
      this.leases.delete(name);
      return { status: 204 };
    }
    return error(405, 'method_not_allowed', 'method not allowed');
  }

  private acquire(ctx: Ctx): Reply {
    const b = ctx.body;
    if (!isObject(b)) return error(400, 'invalid_body', 'body must be a JSON object');
    const { name, holder, ttl_ms: ttl } = b;
    if (typeof name !== 'string' || name === '') return error(400, 'invalid_body', 'name must be a non-empty string');
    if (typeof holder !== 'string' || holder === '') return error(400, 'invalid_body', 'holder must be a non-empty string');
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1) return error(400, 'invalid_body', 'ttl_ms must be a positive integer');
    const held = this.current(name);
    // The same holder again is a retry of the same request (its first answer was lost): the same lease, token included.
    if (held && held.holder === holder) return json(200, { name, holder, token: held.token, expires_at: isoNow(held.expiresAt) });
    if (held) {
      return error(409, 'lease_held', `lease ${name} is held by ${held.holder}`, { holder: held.holder, expires_at: isoNow(held.expiresAt) });
    }
    const lease: Lease = { name, holder, token: crypto.randomBytes(16).toString('hex'), expiresAt: Date.now() + ttl };
    this.leases.set(name, lease);
    return json(201, { name, holder, token: lease.token, expires_at: isoNow(lease.expiresAt) });
  }

  private renew(ctx: Ctx, name: string): Reply {
    const b = ctx.body;
    if (!isObject(b)) return error(400, 'invalid_body', 'body must be a JSON object');
    const { token, ttl_ms: ttl } = b;
    if (typeof token !== 'string') return error(400, 'invalid_body', 'token must be a string');
    if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1) return error(400, 'invalid_body', 'ttl_ms must be a positive integer');
    const l = this.current(name);
    if (!l || l.token !== token) return error(409, 'lease_lost', `lease ${name} is no longer held by this token`);
    l.expiresAt = Date.now() + ttl;
    return json(200, { name, holder: l.holder, expires_at: isoNow(l.expiresAt) });
  }
}
