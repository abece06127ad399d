/**
 * The two parts of undici the clients use: Agent and the request API. undici's package
 * entry loads all of it (fetch, websockets, caches, mocks: ~160 ms of CPU at every CLI
 * start on the bench machine); these two modules cost about a third of that. Falls back
 * to the package entry should a release move them.
 */
import { createRequire } from 'node:module';
import type { Agent, Dispatcher } from 'undici';

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

export const undici = ((): { Agent: typeof Agent; request: (url: string, opts: RequestOptions) => Promise<Dispatcher.ResponseData> } => {
  const require = createRequire(import.meta.url);
  try {
    const AgentClass = require('undici/lib/dispatcher/agent.js') as typeof Agent;
    const apiRequest = require('undici/lib/api/api-request.js') as (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
    if (typeof AgentClass === 'function' && typeof apiRequest === 'function') {
      return {
        Agent: AgentClass,
        request: (url, { dispatcher, ...opts }) => {
          const u = new URL(url);
          return apiRequest.call(dispatcher, { ...opts, origin: u.origin, path: `${u.pathname}${u.search}` } as Dispatcher.RequestOptions);
        },
      };
    }
  } catch {
    // a different undici layout: use the package entry
  }
  const full = require('undici') as typeof import('undici');
  return { Agent: full.Agent, request: (url, opts) => full.request(url, opts) };
})();
