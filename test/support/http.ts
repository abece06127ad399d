// Small HTTP helpers for the simulator's own tests: temp state dirs, JSON calls, polling.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export async function tempDir(prefix = 'qr-sim-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export interface Res {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}

export const get = (url: string, headers?: Record<string, string>): Promise<Res> => http('GET', url, undefined, headers);
export const post = (url: string, body?: unknown): Promise<Res> => http('POST', url, body);
export const put = (url: string, body?: unknown): Promise<Res> => http('PUT', url, body);
export const del = (url: string): Promise<Res> => http('DELETE', url);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
