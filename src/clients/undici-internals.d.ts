// The undici module that clients/undici.ts imports directly (the package ships no types for it).
declare module 'undici/lib/dispatcher/agent.js' {
  const Agent: typeof import('undici').Agent;
  export default Agent;
}
