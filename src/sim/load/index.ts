// The load generator of `sim load` and the demo: MQTT clients through the front door and their client-impact report.
export { runLoad, type LoadOptions, type LoadRun } from './run.js';
export { buildReport, clean, renderReport, percentile, type ClientRecord, type LoadReport } from './report.js';
export { frontDoor, identifierFor, parseHostPort, targetLabel, type FrontDoor, type Target } from './target.js';
export { drainWindows, readCalls, readEvents, readJournal, readSimRecord, rollEnded, type SimRecord } from './record.js';
export { attributeSlow, nodeState, type SlowReconnect, type SlowReconnects } from './attribute.js';
export { haproxyIdentifier, portIdentifier, type Identifier } from './identify.js';
