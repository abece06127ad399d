/**
 * Preload (`node --import bench/loads-hook.mjs …`): records every module the process
 * loads, one URL a line, in $QR_BENCH_LOADS_FILE. B3 uses it to show which packages
 * `--help` loads. (The hooks run on the loader thread, hence the file.)
 */
import { register } from 'node:module';
import process from 'node:process';

if (process.env.QR_BENCH_LOADS_FILE) register('./loads-hooks-impl.mjs', import.meta.url);
