/**
 * Which changing request may be sent again when its answer is lost (a timeout, a reset
 * connection, a 503), and why. A request that changes something is repeated only when
 * repeating it cannot do more than the first one did: idempotent by the contract
 * (../shared/contract/apis.md), or, where it is not, the caller reads what happened
 * instead of sending it again. `HttpClient` retries only GETs unless told otherwise;
 * every POST/PUT/DELETE call site takes its `retry` from this table (a test checks that
 * none goes without).
 */
export const CHANGING_CALLS = {
  // control plane
  'POST /v1/leases': {
    retry: true,
    why: 'idempotent by the contract: a POST by the same holder (unique per run) answers 200 with the same lease, token included',
  },
  'PUT /v1/leases/{name}': {
    retry: true,
    why: 'idempotent: a renewal with the same token again only moves the expiry; a token that no longer holds it gets 409 lease_lost either way',
  },
  'DELETE /v1/leases/{name}': {
    retry: true,
    why: 'idempotent by the contract: 204 also when nobody holds it (the first one released it)',
  },
  'POST /v1/prgs/{id}/leader-transfer': {
    retry: true,
    why: 'idempotent by the contract: a leader that already satisfies {to} or {exclude} answers 202 with from == to and nothing moves (the transfer window sends it again itself)',
  },
  'POST /v1/leader-transfers': {
    retry: false,
    why: 'not idempotent: a second POST starts a second batch; after a lost answer the caller reads which PRGs the node still leads and moves those per PRG',
  },
  // node runtime
  'PUT /v1/drain': { retry: true, why: 'idempotent by the contract' },
  'DELETE /v1/drain': { retry: true, why: 'idempotent by the contract' },
  'POST /v1/sessions/disconnect': {
    retry: true,
    why: 'a new request replaces the one in progress (the contract): a repeat asks again at the same rate; with a `limit` it may evict up to that many more, which the closed loop sees (it paces on the sessions the nodes report, not on its own count)',
  },
  // LB: generic HTTP pool API
  'PUT /v1/pools/{pool}/members/{member}/admin-state': {
    retry: true,
    why: 'idempotent: a PUT sets the admin state, the same state again changes nothing',
  },
} as const satisfies Record<string, { retry: boolean; why: string }>;

export type ChangingCall = keyof typeof CHANGING_CALLS;

/** The `retry` option of a changing call: the table's answer, unless the caller turned retries off. */
export function retryOf(call: ChangingCall, ctl: { retry?: boolean } = {}): boolean {
  return ctl.retry === false ? false : CHANGING_CALLS[call].retry;
}
