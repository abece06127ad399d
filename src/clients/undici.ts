/**
 * The one part of undici the clients use: its Agent (requests go through the agent's own
 * dispatch, clients/http.ts `exchange`). undici's package entry loads all of it (fetch,
 * websockets, caches, mocks: ~160 ms of CPU at every CLI start on the bench machine).
 * A static import, so that the bundle (scripts/bundle.mjs) carries it: a release that
 * moves it fails the build, not a run.
 */
import type { Agent } from 'undici';
import AgentClass from 'undici/lib/dispatcher/agent.js';

export const undici: { Agent: typeof Agent } = { Agent: AgentClass };
