import type { LbConfig } from '../../config/schema.js';
import { HttpClient } from '../../clients/http.js';
import type { LbAdapter, LbDeps } from './types.js';

/** Builds the configured adapter; heavy adapters are loaded only when chosen. */
export async function createLbAdapter(lb: LbConfig, deps: LbDeps): Promise<LbAdapter> {
  switch (lb.adapter) {
    case 'none': {
      const { NoneLbAdapter } = await import('./none.js');
      return new NoneLbAdapter(deps);
    }
    case 'http': {
      const { HttpLbAdapter } = await import('./http.js');
      const http = new HttpClient({ baseUrl: lb.url!, system: 'LB', configKey: 'lb', access: lb, env: deps.env, requestTimeoutMs: 10_000 });
      return new HttpLbAdapter(http, lb.pool!);
    }
    case 'haproxy': {
      const { HaproxyLbAdapter } = await import('./haproxy.js');
      return new HaproxyLbAdapter({ socket: lb.socket!, backends: lb.backends! }, deps);
    }
    case 'exec': {
      const { ExecLbAdapter } = await import('./exec.js');
      return new ExecLbAdapter({ drain: lb.drain!, enable: lb.enable!, status: lb.status! }, deps);
    }
  }
}
