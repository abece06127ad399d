// Public entry of the simulator (tests, the demo and `sim start` use this).
export { startSim, type StartedSim } from './supervisor.js';
export { defaultFaults, parseFaultArgs, parseFaultsPatch } from './faults.js';
export { CONFIG_FILE, SIM_JSON, TOKEN_ENV, readSimJson, type SimInfo } from './config-files.js';
export type {
  Faults,
  MalformedFault,
  RecordedCall,
  ReplicaFault,
  ReplicaState,
  SimEvent,
  SimHandle,
  SimNodeInfo,
  SimOptions,
  SimStats,
  SimTlsPaths,
} from './types.js';
export { createCa, issueCert, type CertPair } from './tls.js';
