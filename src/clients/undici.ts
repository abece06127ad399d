/**
 * The two parts of undici the clients use: Agent and the request API. undici's package
 * entry loads all of it (fetch, websockets, caches, mocks: ~160 ms of CPU at every CLI
 * start on the bench machine); these two modules cost about a third of that. Static
 * imports, so that the bundle (scripts/bundle.mjs) carries them: a release that moves
 * them fails the build, not a run.
 */
import type { Agent, Dispatcher } from 'undici';
import AgentClass from 'undici/lib/dispatcher/agent.js';
import apiRequest from 'undici/lib/api/api-request.js';

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

export const undici: { Agent: typeof Agent; request: (url: string, opts: RequestOptions) => Promise<Dispatcher.ResponseData> } = {
  Agent: AgentClass,
  request: (url, { dispatcher, ...opts }) => {
    const u = new URL(url);
    return apiRequest.call(dispatcher, { ...opts, origin: u.origin, path: `${u.pathname}${u.search}` } as Dispatcher.RequestOptions);
  },
};
